package sdk

import (
	"strings"
	"testing"
)

// A value that is not a duration may be a secret pasted into the wrong
// attribute; the error names the attribute and leaves the value out.
func TestDecodeConfigBadDurationNamesAttributeNotValue(t *testing.T) {
	schema := []Attribute{{Name: "timeout", Type: TypeDuration}}
	const value = "hunter2-not-a-duration"
	_, err := DecodeConfig(schema, map[string]any{"timeout": value})
	if err == nil {
		t.Fatal("DecodeConfig accepted a value that is not a duration")
	}
	if !strings.Contains(err.Error(), `"timeout"`) || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("error %q does not name the attribute and the problem", err)
	}
	if strings.Contains(err.Error(), value) {
		t.Errorf("error %q quotes the value", err)
	}
}
