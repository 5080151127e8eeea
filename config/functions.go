package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFileSize bounds what file() reads: it is meant for keys and certificates,
// and a mistaken path such as /dev/zero must not hang the loader.
const maxFileSize = 1 << 20

// envFunc is env("NAME"). An unset variable is an error rather than "", so a
// forgotten export shows up at load time instead of as a failed login later.
func envFunc(lookup func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable of the byov process.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the name of the environment variable is empty")
			}
			v, ok := lookup(name)
			if !ok {
				return cty.NilVal, function.NewArgErrorf(0, "the environment variable %q is not set; set it in byov's environment, or read the value with file() instead", name)
			}
			return cty.StringVal(v), nil
		},
	})
}

// fileFunc is file("path"), relative to the config file's directory. Trailing
// line breaks are dropped because a key saved with `echo key > file` ends with
// one that is not part of the key.
func fileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file, relative to the config file's directory, without trailing line breaks.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the path is empty")
			}
			full := p
			if !filepath.IsAbs(full) {
				full = filepath.Join(baseDir, full)
			}
			s, err := readSmallFile(full)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, fmt.Errorf("cannot read %q: %w", p, err))
			}
			return cty.StringVal(strings.TrimRight(s, "\r\n")), nil
		},
	})
}

func readSmallFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("there is no file %s (relative paths start at the config file's directory)", path)
		}
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFileSize {
		return "", fmt.Errorf("%s is larger than %d bytes; file() is for keys and certificates", path, maxFileSize)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s is not UTF-8 text", path)
	}
	return string(b), nil
}

// templateFunctions are the functions an account template may call. They are
// pure string functions: a template runs once per session, where reading the
// environment or files would be surprising.
var templateFunctions = map[string]function.Function{
	"lower":      stdlib.LowerFunc,
	"upper":      stdlib.UpperFunc,
	"replace":    stdlib.ReplaceFunc,
	"trimprefix": stdlib.TrimPrefixFunc,
	"trimsuffix": stdlib.TrimSuffixFunc,
	"substr":     stdlib.SubstrFunc,
}
