package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/moontide/moontide/engine/event"
)

// errShort is returned when a row image ends inside a value.
var errShort = errors.New("row image ends inside the value")

// rowDecoder decodes the row images of one rows event. It is reused
// across events; the Values it returns live in slabs it hands out and never
// touches again.
type rowDecoder struct {
	slab []event.Value
}

// values returns a fresh row of n Missing values, carved from a slab so
// that a rows event of many rows costs few allocations.
func (d *rowDecoder) values(n int) []event.Value {
	if len(d.slab) < n {
		size := 64 * n
		if size < 256 {
			size = 256
		}
		d.slab = make([]event.Value, size)
	}
	row := d.slab[:n:n]
	d.slab = d.slab[n:]
	return row
}

// decodeImage decodes one row image from data into a new row and returns
// the number of bytes it used. present is the rows event's column bitmap;
// columns not in it stay Missing. mysqlJSON holds go-mysql's rendering of
// this image when the table has MySQL JSON columns.
func (d *rowDecoder) decodeImage(tv *tableVersion, present []byte, data []byte, mysqlJSON []any) ([]event.Value, int, error) {
	n := len(tv.cols)
	row := d.values(n)
	count := 0
	for i := 0; i < n; i++ {
		if present[i>>3]&(1<<(uint(i)&7)) != 0 {
			count++
		}
	}
	nullBytes := (count + 7) / 8
	if len(data) < nullBytes {
		return nil, 0, fmt.Errorf("row image ends inside its null bitmap")
	}
	nulls := data[:nullBytes]
	pos := nullBytes
	ni := 0
	for i := 0; i < n; i++ {
		if present[i>>3]&(1<<(uint(i)&7)) == 0 {
			continue
		}
		isNull := nulls[ni>>3]&(1<<(uint(ni)&7)) != 0
		ni++
		if isNull {
			row[i] = event.NullValue()
			continue
		}
		c := &tv.cols[i]
		v, used, err := c.decode(data[pos:])
		if err != nil {
			return nil, 0, &columnError{col: tv.table.Columns[i].Name, typ: tv.table.Columns[i].Type, err: err}
		}
		if c.typ == mysql.MYSQL_TYPE_JSON {
			v, err = jsonFromGoMySQL(mysqlJSON, i)
			if err != nil {
				return nil, 0, &columnError{col: tv.table.Columns[i].Name, typ: tv.table.Columns[i].Type, err: err}
			}
		}
		row[i] = v
		pos += used
	}
	return row, pos, nil
}

// columnError names the column a value could not be decoded from.
type columnError struct {
	col, typ string
	err      error
}

func (e *columnError) Error() string {
	return fmt.Sprintf("column %s %s: %v", e.col, e.typ, e.err)
}

func (e *columnError) Unwrap() error { return e.err }

func jsonFromGoMySQL(row []any, i int) (event.Value, error) {
	if i >= len(row) {
		return event.Value{}, errors.New("go-mysql did not decode the JSON value")
	}
	switch v := row[i].(type) {
	case string:
		return event.JSONValue(v), nil
	case []byte:
		if len(v) == 0 {
			// An empty document: what MySQL stores for '' in non-strict mode.
			return event.JSONValue("null"), nil
		}
		return event.JSONValue(string(v)), nil
	case nil:
		return event.NullValue(), nil
	default:
		return event.Value{}, fmt.Errorf("partial JSON update (%T) is not supported; set binlog_row_value_options=''", v)
	}
}

// decode reads one non-NULL value of the column from the start of data.
func (c *column) decode(data []byte) (event.Value, int, error) {
	need := func(n int) error {
		if len(data) < n {
			return errShort
		}
		return nil
	}
	switch c.typ {
	case mysql.MYSQL_TYPE_TINY:
		if err := need(1); err != nil {
			return event.Value{}, 0, err
		}
		if c.unsigned {
			return event.UintValue(uint64(data[0])), 1, nil
		}
		return event.IntValue(int64(int8(data[0]))), 1, nil
	case mysql.MYSQL_TYPE_SHORT:
		if err := need(2); err != nil {
			return event.Value{}, 0, err
		}
		u := binary.LittleEndian.Uint16(data)
		if c.unsigned {
			return event.UintValue(uint64(u)), 2, nil
		}
		return event.IntValue(int64(int16(u))), 2, nil
	case mysql.MYSQL_TYPE_INT24:
		if err := need(3); err != nil {
			return event.Value{}, 0, err
		}
		u := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16
		if c.unsigned {
			return event.UintValue(uint64(u)), 3, nil
		}
		return event.IntValue(int64(int32(u<<8) >> 8)), 3, nil
	case mysql.MYSQL_TYPE_LONG:
		if err := need(4); err != nil {
			return event.Value{}, 0, err
		}
		u := binary.LittleEndian.Uint32(data)
		if c.unsigned {
			return event.UintValue(uint64(u)), 4, nil
		}
		return event.IntValue(int64(int32(u))), 4, nil
	case mysql.MYSQL_TYPE_LONGLONG:
		if err := need(8); err != nil {
			return event.Value{}, 0, err
		}
		u := binary.LittleEndian.Uint64(data)
		if c.unsigned {
			return event.UintValue(u), 8, nil
		}
		return event.IntValue(int64(u)), 8, nil
	case mysql.MYSQL_TYPE_YEAR:
		if err := need(1); err != nil {
			return event.Value{}, 0, err
		}
		if data[0] == 0 {
			return event.IntValue(0), 1, nil
		}
		return event.IntValue(1900 + int64(data[0])), 1, nil
	case mysql.MYSQL_TYPE_FLOAT:
		if err := need(4); err != nil {
			return event.Value{}, 0, err
		}
		return event.Float32Value(math.Float32frombits(binary.LittleEndian.Uint32(data))), 4, nil
	case mysql.MYSQL_TYPE_DOUBLE:
		if err := need(8); err != nil {
			return event.Value{}, 0, err
		}
		return event.FloatValue(math.Float64frombits(binary.LittleEndian.Uint64(data))), 8, nil
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		s, n, err := decodeDecimal(data, c.prec, c.scale)
		return event.DecimalValue(s), n, err
	case mysql.MYSQL_TYPE_BIT:
		nbits := int(c.meta>>8)*8 + int(c.meta&0xff)
		n := (nbits + 7) / 8
		if err := need(n); err != nil {
			return event.Value{}, 0, err
		}
		var u uint64
		for _, b := range data[:n] {
			u = u<<8 | uint64(b)
		}
		return event.UintValue(u), n, nil
	case mysql.MYSQL_TYPE_DATE:
		if err := need(3); err != nil {
			return event.Value{}, 0, err
		}
		u := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16
		b := make([]byte, 0, 10)
		b = appendDate(b, int(u>>9), int(u>>5&15), int(u&31))
		return event.TimeValue(aliasString(b)), 3, nil
	case mysql.MYSQL_TYPE_DATETIME2:
		n := 5 + (c.fsp+1)/2
		if err := need(n); err != nil {
			return event.Value{}, 0, err
		}
		packed := int64(bigEndian(data[:5])) - 0x8000000000
		frac := fracPart(data[5:n], c.fsp)
		ymd, hms := packed>>17, packed&(1<<17-1)
		ym := ymd >> 5
		b := make([]byte, 0, 26)
		b = appendDate(b, int(ym/13), int(ym%13), int(ymd&31))
		b = append(b, ' ')
		b = appendClock(b, int(hms>>12), int(hms>>6&63), int(hms&63))
		b = appendFrac(b, frac, c.fsp)
		return event.TimeValue(aliasString(b)), n, nil
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		n := 4 + (c.fsp+1)/2
		if err := need(n); err != nil {
			return event.Value{}, 0, err
		}
		sec := int64(binary.BigEndian.Uint32(data))
		frac := fracPart(data[4:n], c.fsp)
		return event.TimeValue(formatTimestamp(sec, frac, c.fsp)), n, nil
	case mysql.MYSQL_TYPE_TIME2:
		n := 3 + (c.fsp+1)/2
		if err := need(n); err != nil {
			return event.Value{}, 0, err
		}
		return event.TimeValue(decodeTime2(data[:n], c.fsp)), n, nil
	case mysql.MYSQL_TYPE_TIMESTAMP:
		if err := need(4); err != nil {
			return event.Value{}, 0, err
		}
		return event.TimeValue(formatTimestamp(int64(binary.LittleEndian.Uint32(data)), 0, 0)), 4, nil
	case mysql.MYSQL_TYPE_DATETIME:
		if err := need(8); err != nil {
			return event.Value{}, 0, err
		}
		v := binary.LittleEndian.Uint64(data)
		d, t := v/1000000, v%1000000
		b := make([]byte, 0, 19)
		b = appendDate(b, int(d/10000), int(d/100%100), int(d%100))
		b = append(b, ' ')
		b = appendClock(b, int(t/10000), int(t/100%100), int(t%100))
		return event.TimeValue(aliasString(b)), 8, nil
	case mysql.MYSQL_TYPE_TIME:
		if err := need(3); err != nil {
			return event.Value{}, 0, err
		}
		u := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16
		v := int32(u<<8) >> 8
		b := make([]byte, 0, 10)
		if v < 0 {
			b = append(b, '-')
			v = -v
		}
		b = appendClock(b, int(v/10000), int(v/100%100), int(v%100))
		return event.TimeValue(aliasString(b)), 3, nil
	case mysql.MYSQL_TYPE_ENUM:
		size := int(c.meta & 0xff)
		if err := need(size); err != nil {
			return event.Value{}, 0, err
		}
		idx := int(data[0])
		if size == 2 {
			idx = int(binary.LittleEndian.Uint16(data))
		}
		if idx == 0 {
			// Index 0 is the '' the server stores for an invalid value in
			// non-strict mode.
			return event.StringValue(""), size, nil
		}
		if idx > len(c.labels) {
			return event.Value{}, 0, fmt.Errorf("enum index %d beyond the %d labels", idx, len(c.labels))
		}
		return event.StringValue(c.labels[idx-1]), size, nil
	case mysql.MYSQL_TYPE_SET:
		size := int(c.meta & 0xff)
		if err := need(size); err != nil {
			return event.Value{}, 0, err
		}
		var mask uint64
		for j := size - 1; j >= 0; j-- {
			mask = mask<<8 | uint64(data[j])
		}
		if mask == 0 {
			return event.StringValue(""), size, nil
		}
		if bits.Len64(mask) > len(c.labels) {
			return event.Value{}, 0, fmt.Errorf("set bits %#x beyond the %d labels", mask, len(c.labels))
		}
		if bits.OnesCount64(mask) == 1 {
			return event.StringValue(c.labels[bits.TrailingZeros64(mask)]), size, nil
		}
		var b strings.Builder
		for j := 0; mask != 0; j++ {
			if mask&1 != 0 {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(c.labels[j])
			}
			mask >>= 1
		}
		return event.StringValue(b.String()), size, nil
	case mysql.MYSQL_TYPE_VARCHAR:
		h, l, err := lengthPrefix(data, c.meta >= 256)
		if err != nil {
			return event.Value{}, 0, err
		}
		return c.textValue(data[h : h+l]), h + l, nil
	case mysql.MYSQL_TYPE_STRING:
		h, l, err := lengthPrefix(data, c.length >= 256)
		if err != nil {
			return event.Value{}, 0, err
		}
		if c.text == textBinary && l < c.length {
			// The server drops the trailing 0x00 padding of BINARY(n) from
			// the row image; the column's value has all n bytes.
			b := make([]byte, c.length)
			copy(b, data[h:h+l])
			return event.BytesValueString(aliasString(b)), h + l, nil
		}
		return c.textValue(data[h : h+l]), h + l, nil
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_VECTOR, mysql.MYSQL_TYPE_JSON:
		h := int(c.meta)
		if err := need(h); err != nil {
			return event.Value{}, 0, err
		}
		var l int
		for j := h - 1; j >= 0; j-- {
			l = l<<8 | int(data[j])
		}
		if err := need(h + l); err != nil {
			return event.Value{}, 0, err
		}
		if c.typ != mysql.MYSQL_TYPE_BLOB {
			return event.BytesValueString(aliasString(data[h : h+l])), h + l, nil
		}
		return c.textValue(data[h : h+l]), h + l, nil
	case mysql.MYSQL_TYPE_NULL:
		return event.NullValue(), 0, nil
	}
	return event.Value{}, 0, fmt.Errorf("unsupported column type %d", c.typ)
}

// textValue turns the bytes of a character or binary column into a Value
// by the column's charset.
func (c *column) textValue(b []byte) event.Value {
	switch c.text {
	case textUTF8:
		return event.StringValue(aliasString(b))
	case textLatin1:
		return event.StringValue(latin1ToUTF8(b))
	}
	if c.decoder != nil {
		if s, ok := c.decoder.decode(b); ok {
			return event.StringValue(s)
		}
	}
	return event.BytesValueString(aliasString(b))
}

func bigEndian(b []byte) uint64 {
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u
}

// fracPart reads the fractional seconds of a temporal2 value as
// microseconds. b holds (fsp+1)/2 big-endian bytes.
func fracPart(b []byte, fsp int) int64 {
	switch fsp {
	case 1, 2:
		return int64(b[0]) * 10000
	case 3, 4:
		return int64(binary.BigEndian.Uint16(b)) * 100
	case 5, 6:
		return int64(bigEndian(b[:3]))
	}
	return 0
}

func appendDate(b []byte, y, m, d int) []byte {
	b = appendPadded(b, y, 4)
	b = append(b, '-')
	b = appendPadded(b, m, 2)
	b = append(b, '-')
	return appendPadded(b, d, 2)
}

func appendClock(b []byte, h, m, s int) []byte {
	b = appendPadded(b, h, 2)
	b = append(b, ':')
	b = appendPadded(b, m, 2)
	b = append(b, ':')
	return appendPadded(b, s, 2)
}

// appendFrac appends the fraction of a second with exactly fsp digits, as
// the server prints a value of a column with that precision.
func appendFrac(b []byte, usec int64, fsp int) []byte {
	if fsp == 0 {
		return b
	}
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + usec%10)
		usec /= 10
	}
	b = append(b, '.')
	return append(b, digits[:fsp]...)
}

func appendPadded(b []byte, v, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// formatTimestamp formats a TIMESTAMP in UTC as 2006-01-02T15:04:05[.ffffff]Z.
// The zero TIMESTAMP is not an instant; it stays the server's
// "0000-00-00 00:00:00".
func formatTimestamp(sec, usec int64, fsp int) string {
	b := make([]byte, 0, 27)
	if sec == 0 && usec == 0 {
		b = append(b, "0000-00-00 00:00:00"...)
		return aliasString(appendFrac(b, 0, fsp))
	}
	days := sec / 86400
	rem := sec % 86400
	y, m, d := civil(days)
	b = appendDate(b, y, m, d)
	b = append(b, 'T')
	b = appendClock(b, int(rem/3600), int(rem/60%60), int(rem%60))
	b = appendFrac(b, usec, fsp)
	b = append(b, 'Z')
	return aliasString(b)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil, inverted).
func civil(z int64) (int, int, int) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

// decodeTime2 decodes a TIME2 value, including negative and fractional
// times, as [-]hh:mm:ss[.ffffff] with exactly fsp fraction digits. The
// format stores sign and magnitude as one offset integer whose fraction is
// kept in reverse order for negatives (see my_time_packed_from_binary).
func decodeTime2(b []byte, fsp int) string {
	var packed int64 // the value in the server's in-memory packed form: hms<<24 | usec
	switch fsp {
	case 1, 2:
		intPart := int64(bigEndian(b[:3])) - 0x800000
		frac := int64(b[3])
		if intPart < 0 && frac != 0 {
			intPart++
			frac -= 0x100
		}
		packed = intPart<<24 + frac*10000
	case 3, 4:
		intPart := int64(bigEndian(b[:3])) - 0x800000
		frac := int64(binary.BigEndian.Uint16(b[3:5]))
		if intPart < 0 && frac != 0 {
			intPart++
			frac -= 0x10000
		}
		packed = intPart<<24 + frac*100
	case 5, 6:
		packed = int64(bigEndian(b[:6])) - 0x800000000000
	default:
		packed = (int64(bigEndian(b[:3])) - 0x800000) << 24
	}
	out := make([]byte, 0, 17)
	if packed < 0 {
		out = append(out, '-')
		packed = -packed
	}
	hms := packed >> 24
	usec := packed % (1 << 24)
	out = appendClock(out, int(hms>>12&1023), int(hms>>6&63), int(hms&63))
	out = appendFrac(out, usec, fsp)
	return aliasString(out)
}

// decimal storage: each full group of 9 digits takes 4 bytes; a partial
// group of n digits takes digitBytes[n].
var digitBytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// decimalSize is the number of bytes a DECIMAL(prec,scale) value takes.
func decimalSize(prec, scale int) int {
	intg := prec - scale
	return intg/9*4 + digitBytes[intg%9] + scale/9*4 + digitBytes[scale%9]
}

// decodeDecimal decodes the server's binary DECIMAL into exact text with
// exactly scale fraction digits, "-0.50" for DECIMAL(3,2). It writes the
// digits itself: no float and no decimal library that would trim zeros.
func decodeDecimal(data []byte, prec, scale int) (string, int, error) {
	size := decimalSize(prec, scale)
	if len(data) < size {
		return "", 0, errShort
	}
	intg := prec - scale
	// The sign bit is the top bit of the first byte, set for positive
	// values; negative values have every byte inverted.
	var mask byte
	if data[0]&0x80 == 0 {
		mask = 0xff
	}
	out := make([]byte, 0, prec+3)
	if mask != 0 {
		out = append(out, '-')
	}
	pos := 0
	read := func(n int) uint32 {
		var v uint32
		for j := 0; j < n; j++ {
			c := data[pos+j] ^ mask
			if pos+j == 0 {
				c ^= 0x80
			}
			v = v<<8 | uint32(c)
		}
		pos += n
		return v
	}
	var digits [9]byte
	group := func(v uint32, width int) []byte {
		for j := width - 1; j >= 0; j-- {
			digits[j] = byte('0' + v%10)
			v /= 10
		}
		return digits[:width]
	}
	leading := true
	emit := func(g []byte) {
		if leading {
			k := 0
			for k < len(g) && g[k] == '0' {
				k++
			}
			if k == len(g) {
				return
			}
			leading = false
			g = g[k:]
		}
		out = append(out, g...)
	}
	if first := intg % 9; first > 0 {
		emit(group(read(digitBytes[first]), first))
	}
	for j := 0; j < intg/9; j++ {
		emit(group(read(4), 9))
	}
	if leading {
		out = append(out, '0')
	}
	if scale > 0 {
		out = append(out, '.')
		for j := 0; j < scale/9; j++ {
			out = append(out, group(read(4), 9)...)
		}
		if last := scale % 9; last > 0 {
			out = append(out, group(read(digitBytes[last]), last)...)
		}
	}
	// Guard against values no column of this precision can hold, which
	// would mean the row image is not what the table map says.
	if len(out)-boolInt(mask != 0)-boolInt(scale > 0) > prec+1 {
		return "", 0, fmt.Errorf("decimal has more digits than precision %d", prec)
	}
	return aliasString(out), size, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lengthPrefix reads the length in front of a VARCHAR or CHAR value: one
// byte, or two little-endian bytes for columns that can hold 256 bytes or
// more. It returns the prefix's size and the value's length, checking that
// data holds both.
func lengthPrefix(data []byte, wide bool) (h, l int, err error) {
	switch {
	case !wide && len(data) >= 1:
		h, l = 1, int(data[0])
	case wide && len(data) >= 2:
		h, l = 2, int(binary.LittleEndian.Uint16(data))
	default:
		return 0, 0, errShort
	}
	if len(data) < h+l {
		return 0, 0, errShort
	}
	return h, l, nil
}
