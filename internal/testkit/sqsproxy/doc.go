// Package sqsproxy is a test-only HTTP proxy for the SQS JSON protocol that sits
// in front of goaws and makes it behave like SQS where casebridge's tests depend
// on it, and lets tests break it on purpose.
//
// Fidelity: ApproximateReceiveCount counts real receives; received messages
// carry MessageGroupId, MessageDeduplicationId and SequenceNumber as sent;
// SentTimestamp and ApproximateFirstReceiveTimestamp keep their meaning; only
// the system attributes the receiver asked for are returned; SendMessageBatch
// lists its Successful entries; ChangeMessageVisibilityBatch works;
// ApproximateNumberOfMessages counts visible messages only; FIFO
// deduplication ids are honoured for five minutes; ChangeMessageVisibility to 0
// on a FIFO queue no longer wedges the group.
//
// Faults: Down refuses every connection, FailAction answers chosen calls with
// an SQS error, Calls counts calls by action.
//
// It never alters a message body or message attributes (the SDK checks their
// MD5s), and production code never knows it is there: it is just an endpoint.
// See docs/testing.md for what it cannot fix.
package sqsproxy
