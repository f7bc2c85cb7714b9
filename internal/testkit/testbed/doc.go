// Package testbed starts the local, real-protocol servers that casebridge's
// integration tests, demo and benchmarks run against, and builds AWS SDK clients
// pointed at them.
//
// Its one job is to make "a real SQS on 127.0.0.1" a single call: StartGoaws
// runs the pinned goaws binary (installed by scripts/tools.sh) as a separate
// process on a free port with a generated configuration, waits until it answers,
// and kills its whole process group on Close. Nothing here is used by production
// code.
package testbed
