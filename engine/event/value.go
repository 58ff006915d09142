package event

import (
	"math"
	"strconv"
	"unsafe"
)

// Kind says what a Value holds.
type Kind uint8

// The kinds of Value. The zero Value is Missing.
const (
	// Missing marks a column absent from the row image (binlog_row_image
	// other than FULL). It never appears in JSON.
	Missing Kind = iota
	// Null is SQL NULL.
	Null
	// Int is a signed integer: TINYINT..BIGINT, YEAR.
	Int
	// Uint is an unsigned integer: the UNSIGNED integer types and BIT.
	Uint
	// Float is FLOAT or DOUBLE. FLOAT is carried as the float64 nearest to
	// its shortest 32-bit decimal form, so 1.1 stays 1.1.
	Float
	// Decimal is DECIMAL as exact text with the column's scale, "-12.50".
	Decimal
	// String is valid UTF-8 text: CHAR, VARCHAR, TEXT, ENUM and SET labels.
	String
	// Bytes is binary data: BINARY, VARBINARY, BLOB, and text in a charset
	// that could not be decoded.
	Bytes
	// Time is temporal text: DATE, DATETIME, TIMESTAMP (UTC) and TIME.
	Time
	// JSON is a JSON document as text.
	JSON
)

var kindNames = [...]string{"missing", "null", "int", "uint", "float", "decimal", "string", "bytes", "time", "json"}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one column value of a row image. It is small and copied by value;
// the zero Value is Missing.
type Value struct {
	kind Kind
	num  uint64 // Int, Uint and Float bits
	str  string // Decimal, String, Bytes, Time and JSON
}

// NullValue returns SQL NULL.
func NullValue() Value { return Value{kind: Null} }

// IntValue returns a signed integer.
func IntValue(v int64) Value { return Value{kind: Int, num: uint64(v)} }

// UintValue returns an unsigned integer.
func UintValue(v uint64) Value { return Value{kind: Uint, num: v} }

// FloatValue returns a DOUBLE.
func FloatValue(v float64) Value { return Value{kind: Float, num: math.Float64bits(v)} }

// Float32Value returns a FLOAT, widened through its shortest decimal form so
// that the float64 reads as the value the user stored.
func Float32Value(v float32) Value {
	s := strconv.FormatFloat(float64(v), 'g', -1, 32)
	f, _ := strconv.ParseFloat(s, 64) // s came from FormatFloat: it parses
	return FloatValue(f)
}

// DecimalValue returns a DECIMAL given as exact text.
func DecimalValue(s string) Value { return Value{kind: Decimal, str: s} }

// StringValue returns text. It must be valid UTF-8; EncodeJSON refuses text
// that is not.
func StringValue(s string) Value { return Value{kind: String, str: s} }

// BytesValue returns binary data. It copies b.
func BytesValue(b []byte) Value { return Value{kind: Bytes, str: string(b)} }

// BytesValueString returns binary data held in a string, without a copy.
func BytesValueString(s string) Value { return Value{kind: Bytes, str: s} }

// TimeValue returns temporal text as documented in docs/types.md.
func TimeValue(s string) Value { return Value{kind: Time, str: s} }

// JSONValue returns a JSON document given as text.
func JSONValue(s string) Value { return Value{kind: JSON, str: s} }

// Kind reports what v holds.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.kind == Null }

// Int returns the value of an Int.
func (v Value) Int() int64 { return int64(v.num) }

// Uint returns the value of a Uint.
func (v Value) Uint() uint64 { return v.num }

// Float returns the value of a Float.
func (v Value) Float() float64 { return math.Float64frombits(v.num) }

// Str returns the text of a Decimal, String, Time or JSON, or the bytes of a
// Bytes value as a string.
func (v Value) Str() string { return v.str }

// Bytes returns the bytes of a Bytes value (or the text of a textual kind).
// The slice aliases v and must not be modified.
func (v Value) Bytes() []byte { return unsafe.Slice(unsafe.StringData(v.str), len(v.str)) }

// Equal reports whether two values are the same kind and value. Floats
// compare by bits, so the comparison is exact.
func (v Value) Equal(w Value) bool { return v == w }

// AppendText appends the value as plain text, the form used in keys: integers
// in decimal, floats in shortest form, text and bytes as they are. Null and
// Missing append nothing.
func (v Value) AppendText(dst []byte) []byte {
	switch v.kind {
	case Int:
		return strconv.AppendInt(dst, v.Int(), 10)
	case Uint:
		return strconv.AppendUint(dst, v.num, 10)
	case Float:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64)
	case Null, Missing:
		return dst
	default:
		return append(dst, v.str...)
	}
}

// String is the value for humans and logs: text as it is, bytes in hex.
func (v Value) String() string {
	switch v.kind {
	case Missing:
		return "<missing>"
	case Null:
		return "NULL"
	case Bytes:
		const hex = "0123456789abcdef"
		b := make([]byte, 0, 2+2*len(v.str))
		b = append(b, "0x"...)
		for i := 0; i < len(v.str); i++ {
			b = append(b, hex[v.str[i]>>4], hex[v.str[i]&0xf])
		}
		return string(b)
	default:
		return string(v.AppendText(nil))
	}
}
