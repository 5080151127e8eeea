package sdk

// Secret holds a password or key. It prints as "[redacted]" with every fmt
// verb and marshals to JSON the same way, so a secret that reaches a log line
// or an error by mistake does not leak; Reveal returns the value on purpose.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the value.
func (s Secret) GoString() string { return redacted }

// MarshalJSON keeps the value out of JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText keeps the value out of text encodings (and hclog's output).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
