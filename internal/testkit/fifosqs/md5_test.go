package fifosqs_test

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// attributesMD5 encodes SQS's message-attribute digest from the SDK's types,
// independently of the server's code.
func attributesMD5(attrs map[string]types.MessageAttributeValue) string {
	var buf bytes.Buffer
	lp := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		buf.Write(n[:])
		buf.Write(b)
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := attrs[k]
		lp([]byte(k))
		lp([]byte(aws.ToString(v.DataType)))
		if v.StringValue != nil {
			buf.WriteByte(1)
			lp([]byte(*v.StringValue))
		} else {
			buf.WriteByte(2)
			lp(v.BinaryValue)
		}
	}
	sum := md5.Sum(buf.Bytes())
	return hex.EncodeToString(sum[:])
}
