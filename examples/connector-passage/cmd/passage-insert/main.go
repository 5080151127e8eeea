// Command passage-insert stores a password in a passage store, as
// `passage insert` does, so the example connector can be tried without
// installing passage: the password is read from stdin, encrypted to the
// identities file's recipients and written to <store>/<entry>.age. With
// -new-identity it first creates the identities file (0600).
//
//	passage-insert -store ./store -identities ./identities -new-identity corp/administrator < password.txt
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
)

func main() {
	if err := run(os.Args[1:], os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "passage-insert: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader) error {
	fs := flag.NewFlagSet("passage-insert", flag.ContinueOnError)
	store := fs.String("store", "", "the store directory (required)")
	identities := fs.String("identities", "", "the age identities file (required)")
	newIdentity := fs.Bool("new-identity", false, "create the identities file with a new X25519 identity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *store == "" || *identities == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: passage-insert -store DIR -identities FILE [-new-identity] ENTRY (password on stdin)")
	}
	entry := fs.Arg(0)
	if strings.Contains(entry, "..") || filepath.IsAbs(entry) {
		return fmt.Errorf("entry %q must be a relative path inside the store", entry)
	}
	if *newIdentity {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*identities, []byte(id.String()+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing the identities file: %w", err)
		}
	}
	f, err := os.Open(*identities)
	if err != nil {
		return fmt.Errorf("reading the identities file: %w", err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("the identities file is not valid: %w", err)
	}
	var recipients []age.Recipient
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			recipients = append(recipients, x.Recipient())
		}
	}
	if len(recipients) == 0 {
		return fmt.Errorf("the identities file holds no X25519 identity to encrypt to")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("reading the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return fmt.Errorf("no password on stdin")
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, password+"\n"); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	path := filepath.Join(*store, filepath.FromSlash(entry)+".age")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}
