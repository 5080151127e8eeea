package config

import (
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// WriteDiagnostics prints diags in hcl's text format: severity, summary,
// file:line:column, the source line with the problem underlined, and the
// detail. sources maps file names to their contents; a file it lacks is read
// from disk, so the result of LoadFile can be printed with nil.
func WriteDiagnostics(w io.Writer, sources map[string][]byte, diags hcl.Diagnostics, color bool) error {
	files := map[string]*hcl.File{}
	for name, src := range sources {
		files[name] = parseForContext(name, src)
	}
	for _, d := range diags {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil || files[r.Filename] != nil {
				continue
			}
			// Without the source, the writer still prints the position.
			if src, err := os.ReadFile(r.Filename); err == nil {
				files[r.Filename] = parseForContext(r.Filename, src)
			}
		}
	}
	// Width 0: no wrapping, since the terminal width is the caller's business.
	return hcl.NewDiagnosticTextWriter(w, files, 0, color).WriteDiagnostics(diags)
}

// parseForContext parses src again so that the writer can name the block a
// problem is in ("in resource "srv02""); a file that does not parse still
// gives its source lines.
func parseForContext(name string, src []byte) *hcl.File {
	f, _ := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if f == nil {
		return &hcl.File{Bytes: src}
	}
	return f
}
