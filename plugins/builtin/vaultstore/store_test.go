package vaultstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/byov/byov/plugins/builtin/vaultstore"
	"github.com/byov/byov/sdk"
)

// fastArgon2 keeps passphrase tests quick; the parameters are stored in the
// file, so reopening uses them too.
var fastArgon2 = vaultstore.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

var (
	alice = sdk.Account{Domain: "CORP", Username: "alice"}
	bob   = sdk.Account{Domain: "CORP", Username: "bob"}
	carol = sdk.Account{Domain: "LAB", Username: "carol"}
)

// Test passwords are distinctive so that scanning files for them cannot
// match by accident.
const (
	alicePW = "Alice-Pw-7f3c1e9a-plaintext"
	bobPW   = "Bob-Pw-2b8d4f60-plaintext"
	carolPW = "Carol-Pw-91ac5e3d-plaintext"
)

func keyFileOptions(t *testing.T) vaultstore.Options {
	t.Helper()
	dir := t.TempDir()
	return vaultstore.Options{
		Path:    filepath.Join(dir, "vault.db"),
		KeyFile: filepath.Join(dir, "master.key"),
		Create:  true,
	}
}

func open(t *testing.T, opts vaultstore.Options) *vaultstore.Store {
	t.Helper()
	s, err := vaultstore.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *vaultstore.Store, a sdk.Account, pw string) int64 {
	t.Helper()
	v, err := s.Put(context.Background(), a, sdk.Secret(pw), vaultstore.Meta{})
	if err != nil {
		t.Fatalf("Put %s: %v", a, err)
	}
	return v
}

func wantSecret(t *testing.T, s *vaultstore.Store, a sdk.Account, pw string) {
	t.Helper()
	e, err := s.Get(context.Background(), a)
	if err != nil {
		t.Fatalf("Get %s: %v", a, err)
	}
	if e.Secret.Reveal() != pw {
		t.Fatalf("Get %s returned the wrong secret", a)
	}
}

// filledStore returns an open store holding alice, bob and carol.
func filledStore(t *testing.T) (*vaultstore.Store, vaultstore.Options) {
	t.Helper()
	opts := keyFileOptions(t)
	s := open(t, opts)
	put(t, s, alice, alicePW)
	put(t, s, bob, bobPW)
	put(t, s, carol, carolPW)
	return s, opts
}

// rawDB opens the vault file behind the store's back, as an attacker or a
// disk fault would change it.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=rw&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t, keyFileOptions(t))
	if !s.Created() {
		t.Error("Created() = false for a new vault")
	}
	v, err := s.Put(ctx, alice, alicePW, vaultstore.Meta{Description: "domain admin", Tags: map[string]string{"team": "ops"}})
	if err != nil || v != 1 {
		t.Fatalf("Put = %d, %v; want version 1", v, err)
	}
	put(t, s, carol, carolPW)
	put(t, s, sdk.Account{Username: "local"}, bobPW)

	for _, name := range []string{`CORP\alice`, `corp\ALICE`, `Corp\Alice`, `LAB\carol`, `lab\CAROL`, `local`, `LOCAL`} {
		t.Run("get "+name, func(t *testing.T) {
			e, err := s.Get(ctx, vaultstore.ParseAccount(name))
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			want := map[string]string{"alice": alicePW, "carol": carolPW, "local": bobPW}[strings.ToLower(e.Account.Username)]
			if e.Secret.Reveal() != want || e.Version != 1 {
				t.Errorf("Get %s: wrong secret or version %d", name, e.Version)
			}
		})
	}
	e, _ := s.Get(ctx, sdk.Account{Domain: "corp", Username: "ALICE"})
	if e.Account != alice {
		t.Errorf("Get returned account %v, want the stored spelling %v", e.Account, alice)
	}

	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, info := range list {
		names = append(names, info.Account.String())
		if got := fmt.Sprintf("%+v", info); strings.Contains(got, alicePW) || strings.Contains(got, carolPW) || strings.Contains(got, bobPW) {
			t.Errorf("List entry %s holds a secret", info.Account)
		}
	}
	if got := strings.Join(names, ","); got != `CORP\alice,LAB\carol,local` {
		t.Errorf("List = %s", got)
	}
	if list[0].Description != "domain admin" || list[0].Tags["team"] != "ops" || list[0].Version != 1 || list[0].Versions != 1 {
		t.Errorf("List[0] = %+v", list[0])
	}
	if lab, _ := s.List(ctx, "lab"); len(lab) != 1 || lab[0].Account != carol {
		t.Errorf("List(lab) = %+v, want carol only", lab)
	}

	if err := s.Delete(ctx, sdk.Account{Domain: "corp", Username: "Alice"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, alice); !errors.Is(err, vaultstore.ErrNotFound) || !strings.Contains(err.Error(), `CORP\alice`) {
		t.Errorf("Get after Delete = %v, want ErrNotFound naming the account", err)
	}
	if err := s.Delete(ctx, alice); !errors.Is(err, vaultstore.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	wantSecret(t, s, carol, carolPW)

	// A recreated account starts again at version 1 and a new row.
	if v := put(t, s, alice, bobPW); v != 1 {
		t.Errorf("Put after Delete = version %d, want 1", v)
	}
	wantSecret(t, s, alice, bobPW)
}

func TestReopen(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) vaultstore.Options
	}{
		{"key file", keyFileOptions},
		{"passphrase", func(t *testing.T) vaultstore.Options {
			return vaultstore.Options{Path: filepath.Join(t.TempDir(), "v.db"), Passphrase: "correct horse battery staple", Create: true, Argon2: fastArgon2}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts(t)
			s := open(t, opts)
			put(t, s, alice, alicePW)
			s.Close()
			opts.Create = false
			opts.Argon2 = vaultstore.Argon2Params{} // read from the file
			s = open(t, opts)
			if s.Created() {
				t.Error("Created() = true for an existing vault")
			}
			wantSecret(t, s, alice, alicePW)
		})
	}
}

func TestVersionsKept(t *testing.T) {
	ctx := context.Background()
	opts := keyFileOptions(t)
	opts.KeepVersions = 3
	s := open(t, opts)
	if _, err := s.Put(ctx, alice, "first", vaultstore.Meta{Description: "kept", Tags: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 6; i++ {
		if v := put(t, s, alice, fmt.Sprintf("pw-%d", i)); v != int64(i) {
			t.Fatalf("Put #%d returned version %d", i, v)
		}
	}
	wantSecret(t, s, alice, "pw-6")
	vs, err := s.Versions(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, v := range vs {
		got = append(got, v.Version)
	}
	if fmt.Sprint(got) != "[4 5 6]" {
		t.Errorf("versions kept = %v, want [4 5 6]", got)
	}
	list, _ := s.List(ctx, "")
	if list[0].Description != "kept" || list[0].Tags["a"] != "1" || list[0].Versions != 3 || list[0].Version != 6 {
		t.Errorf("after puts without meta, List = %+v; want description and tags kept, 3 of 6 versions", list[0])
	}
	if _, err := s.Put(ctx, alice, "pw-7", vaultstore.Meta{Tags: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(ctx, ""); len(list[0].Tags) != 0 {
		t.Errorf("empty non-nil Tags did not replace the tags: %v", list[0].Tags)
	}
}

// TestTampering changes the file behind the store's back. The account read
// must fail with an integrity error naming it, never return another
// account's (or an older) password, and leave the other accounts readable.
func TestTampering(t *testing.T) {
	ctx := context.Background()
	aliceRow := "(SELECT id FROM accounts WHERE username = 'alice')"
	bobRow := "(SELECT id FROM accounts WHERE username = 'bob')"
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB)
	}{
		{"flip one ciphertext byte", func(t *testing.T, db *sql.DB) {
			var ct []byte
			if err := db.QueryRow("SELECT ciphertext FROM secrets WHERE account_id = " + aliceRow).Scan(&ct); err != nil {
				t.Fatal(err)
			}
			ct[len(ct)/2] ^= 0x01
			exec(t, db, "UPDATE secrets SET ciphertext = ? WHERE account_id = "+aliceRow, ct)
		}},
		{"flip one nonce byte", func(t *testing.T, db *sql.DB) {
			exec(t, db, "UPDATE secrets SET nonce = CAST(zeroblob(24) AS BLOB) WHERE account_id = "+aliceRow)
		}},
		{"move bob's ciphertext to alice's row", func(t *testing.T, db *sql.DB) {
			exec(t, db, "UPDATE secrets SET (nonce, ciphertext) = (SELECT nonce, ciphertext FROM secrets WHERE account_id = "+bobRow+") WHERE account_id = "+aliceRow)
		}},
		{"point bob's secret row at alice", func(t *testing.T, db *sql.DB) {
			exec(t, db, "DELETE FROM secrets WHERE account_id = "+aliceRow)
			exec(t, db, "UPDATE secrets SET account_id = "+aliceRow+" WHERE account_id = "+bobRow)
			// bob now has no secret; put one back so only alice is damaged.
			exec(t, db, "INSERT INTO secrets SELECT "+bobRow+", version, nonce, ciphertext, origin, created_at FROM secrets WHERE account_id = "+aliceRow)
		}},
		{"replay an older version as the current one", func(t *testing.T, db *sql.DB) {
			exec(t, db, "UPDATE secrets SET (nonce, ciphertext) = (SELECT nonce, ciphertext FROM secrets WHERE account_id = "+aliceRow+" AND version = 1) WHERE account_id = "+aliceRow+" AND version = 2")
		}},
		{"current version missing", func(t *testing.T, db *sql.DB) {
			exec(t, db, "DELETE FROM secrets WHERE account_id = "+aliceRow+" AND version = 2")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, opts := filledStore(t)
			put(t, s, alice, alicePW+"-v2") // alice has versions 1 and 2
			tc.tamper(t, rawDB(t, opts.Path))

			_, err := s.Get(ctx, alice)
			if !errors.Is(err, vaultstore.ErrIntegrity) {
				t.Fatalf("Get alice = %v, want an integrity error", err)
			}
			if msg := err.Error(); !strings.Contains(msg, `CORP\alice`) || strings.Contains(msg, "Pw-") {
				t.Errorf("error %q should name the account and hold no secret", msg)
			}
			var ie *vaultstore.IntegrityError
			if !errors.As(err, &ie) || ie.Account != alice {
				t.Errorf("error is not an *IntegrityError for alice: %#v", err)
			}
			wantSecret(t, s, bob, bobPW)
			wantSecret(t, s, carol, carolPW)

			report, err := s.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if report.Accounts != 3 || len(report.Damaged) == 0 {
				t.Errorf("Verify = %d accounts, %d damaged; want 3 accounts with alice damaged", report.Accounts, len(report.Damaged))
			}
			for _, d := range report.Damaged {
				if d.Account != alice {
					t.Errorf("Verify reports %s damaged; only alice was touched", d.Account)
				}
			}
			// Putting a new password repairs the account.
			put(t, s, alice, alicePW)
			wantSecret(t, s, alice, alicePW)
		})
	}
}

// TestWrongKey: a wrong master key is refused as such, and the vault file
// is byte for byte what it was.
func TestWrongKey(t *testing.T) {
	ctx := context.Background()
	otherKey := func(t *testing.T, opts *vaultstore.Options) {
		other := keyFileOptions(t) // creates a second vault and its key
		open(t, other).Close()
		opts.KeyFile, opts.Passphrase = other.KeyFile, ""
	}
	for _, tc := range []struct {
		name       string
		passphrase bool // the vault is made with a passphrase
		change     func(t *testing.T, opts *vaultstore.Options)
		want       []string
	}{
		{"another vault's key file", false, otherKey, []string{"wrong key", "check key_file"}},
		{"garbage key file", false, func(t *testing.T, opts *vaultstore.Options) {
			opts.KeyFile = filepath.Join(t.TempDir(), "garbage.key")
			os.WriteFile(opts.KeyFile, []byte("not a key\n"), 0o600)
		}, []string{"wrong key", "garbage.key"}},
		{"passphrase for a key file vault", false, func(t *testing.T, opts *vaultstore.Options) {
			opts.KeyFile, opts.Passphrase = "", "guess"
		}, []string{"wrong key", "set key_file"}},
		{"wrong passphrase", true, func(t *testing.T, opts *vaultstore.Options) {
			opts.Passphrase = "Correct horse battery staple"
		}, []string{"wrong key", "check passphrase"}},
		{"key file for a passphrase vault", true, otherKey, []string{"wrong key", "set passphrase"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := keyFileOptions(t)
			if tc.passphrase {
				opts.KeyFile, opts.Passphrase, opts.Argon2 = "", "correct horse battery staple", fastArgon2
			}
			s := open(t, opts)
			put(t, s, alice, alicePW)
			s.Close()
			before := fileSum(t, opts.Path)

			bad := opts
			bad.Create = true // even with creation allowed, nothing is replaced
			tc.change(t, &bad)
			_, err := vaultstore.Open(ctx, bad)
			if !errors.Is(err, vaultstore.ErrWrongKey) {
				t.Fatalf("Open with %s = %v, want ErrWrongKey", tc.name, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if fileSum(t, opts.Path) != before {
				t.Error("the vault file changed after a refused open")
			}
			wantSecret(t, open(t, opts), alice, alicePW)
		})
	}
}

// TestWrongKeyAfterCrash: a vault whose last writer died leaves committed
// pages in the -wal file. A refused open must not fold them into the main
// file (a checkpoint on close would), so both files keep their bytes.
func TestWrongKeyAfterCrash(t *testing.T) {
	s, opts := filledStore(t)
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(opts.Path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	dbSum, walSum := fileSum(t, crashed), fileSum(t, crashed+"-wal")

	bad := opts
	bad.Path, bad.KeyFile, bad.Passphrase = crashed, "", "guess"
	if _, err := vaultstore.Open(context.Background(), bad); !errors.Is(err, vaultstore.ErrWrongKey) {
		t.Fatalf("Open = %v, want ErrWrongKey", err)
	}
	if fileSum(t, crashed) != dbSum || fileSum(t, crashed+"-wal") != walSum {
		t.Error("a refused open changed the vault file or its write-ahead log")
	}
	good := opts
	good.Path = crashed
	wantSecret(t, open(t, good), carol, carolPW)
}

// TestNoPlaintextOnDisk scans every file SQLite writes, while the store is
// open (the WAL holds the newest pages) and after it closed.
func TestNoPlaintextOnDisk(t *testing.T) {
	ctx := context.Background()
	opts := keyFileOptions(t)
	opts.KeepVersions = 2
	s := open(t, opts)
	secrets := []string{alicePW, bobPW, carolPW, "Pruned-Pw-0d1e2f3a-old"}
	put(t, s, carol, secrets[3]) // pruned below: must not linger in free pages
	put(t, s, alice, alicePW)
	put(t, s, bob, bobPW)
	put(t, s, carol, carolPW)
	put(t, s, carol, carolPW+"!")
	if _, err := s.Rotate(ctx, bob, vaultstore.Policy{Length: 24, Classes: vaultstore.AllClasses}); err != nil {
		t.Fatal(err)
	}
	rotated, _ := s.Get(ctx, bob)
	secrets = append(secrets, rotated.Secret.Reveal())

	scan := func(when string) {
		t.Helper()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(opts.Path + suffix)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range secrets {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s: vault.db%s holds a secret in plaintext", when, suffix)
				}
			}
		}
	}
	scan("while open")
	s.Close()
	scan("after close")
}

func TestSchemaTooNew(t *testing.T) {
	_, opts := filledStore(t)
	exec(t, rawDB(t, opts.Path), "PRAGMA user_version = 7")
	before := fileSum(t, opts.Path)
	_, err := vaultstore.Open(context.Background(), opts)
	if !errors.Is(err, vaultstore.ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "schema version 7") || !strings.Contains(msg, fmt.Sprintf("schema version %d at most", vaultstore.SchemaVersion)) {
		t.Errorf("error %q should name both versions", msg)
	}
	if fileSum(t, opts.Path) != before {
		t.Error("the vault file changed after it was refused")
	}
}

func TestDamagedMetadata(t *testing.T) {
	for _, tc := range []struct{ name, query string }{
		{"wrapped data key altered", "UPDATE meta SET value = zeroblob(72) WHERE name = 'data_key'"},
		{"key check removed", "DELETE FROM meta WHERE name = 'key_check'"},
		{"unknown cipher", "UPDATE meta SET value = CAST('rot13' AS BLOB) WHERE name = 'aead'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, opts := filledStore(t)
			exec(t, rawDB(t, opts.Path), tc.query)
			_, err := vaultstore.Open(context.Background(), opts)
			if !errors.Is(err, vaultstore.ErrDamaged) || !strings.Contains(err.Error(), "restore the file from a backup") {
				t.Fatalf("Open = %v, want ErrDamaged asking for a backup", err)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	ctx := context.Background()
	t.Run("not created without create", func(t *testing.T) {
		opts := keyFileOptions(t)
		opts.Create = false
		_, err := vaultstore.Open(ctx, opts)
		if !errors.Is(err, vaultstore.ErrMissingFile) {
			t.Fatalf("Open = %v, want ErrMissingFile", err)
		}
		if msg := err.Error(); !strings.Contains(msg, opts.Path) || !strings.Contains(msg, "create = true") {
			t.Errorf("error %q should name the path and the create attribute", msg)
		}
		for _, p := range []string{opts.Path, opts.KeyFile} {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists after a refused open", filepath.Base(p))
			}
		}
	})
	t.Run("created owner-only with create", func(t *testing.T) {
		opts := keyFileOptions(t)
		opts.Path = filepath.Join(filepath.Dir(opts.Path), "sub", "dir", "vault.db")
		s := open(t, opts)
		put(t, s, alice, alicePW)
		for _, p := range []string{opts.Path, opts.Path + "-wal", opts.KeyFile} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
	})
	t.Run("no new key file for an existing vault", func(t *testing.T) {
		_, opts := filledStore(t)
		os.Rename(opts.KeyFile, opts.KeyFile+".bak")
		_, err := vaultstore.Open(ctx, opts)
		if !errors.Is(err, vaultstore.ErrMissingFile) || !strings.Contains(err.Error(), "restore the key file") {
			t.Fatalf("Open = %v, want ErrMissingFile asking to restore the key", err)
		}
		if _, err := os.Stat(opts.KeyFile); !errors.Is(err, fs.ErrNotExist) {
			t.Error("a new key file was made for an existing vault")
		}
	})
	t.Run("existing key file used for a new vault", func(t *testing.T) {
		_, first := filledStore(t)
		opts := first
		opts.Path = filepath.Join(t.TempDir(), "second.db")
		before := fileSum(t, opts.KeyFile)
		open(t, opts)
		if fileSum(t, opts.KeyFile) != before {
			t.Error("the existing key file was replaced")
		}
	})
}

func TestNotAVault(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		make   func(t *testing.T, path string)
		create bool
		want   string
	}{
		{"random bytes", func(t *testing.T, p string) {
			os.WriteFile(p, bytes.Repeat([]byte("not sqlite "), 1000), 0o600)
		}, true, "not an SQLite database"},
		{"another SQLite database", func(t *testing.T, p string) {
			exec(t, rawDB(t, p+"?mode=rwc&"), "CREATE TABLE x (y)")
		}, true, "not a byov vault"},
		{"a directory", func(t *testing.T, p string) { os.Mkdir(p, 0o700) }, true, "is a directory"},
		{"an empty file without create", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, false, "create = true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := keyFileOptions(t)
			opts.Create = tc.create
			tc.make(t, opts.Path)
			_, err := vaultstore.Open(ctx, opts)
			if !errors.Is(err, vaultstore.ErrNotVault) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want ErrNotVault saying %q", err, tc.want)
			}
		})
	}
	t.Run("an empty file with create", func(t *testing.T) {
		opts := keyFileOptions(t)
		os.WriteFile(opts.Path, nil, 0o600)
		put(t, open(t, opts), alice, alicePW)
	})
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	s := open(t, keyFileOptions(t))
	for _, a := range []sdk.Account{
		{Domain: "CORP"},
		{Domain: "CORP", Username: `a\b`},
		{Domain: "CO\nRP", Username: "a"},
		{Username: strings.Repeat("x", 300)},
		{Username: "bad\xffutf8"},
	} {
		if _, err := s.Put(ctx, a, "pw", vaultstore.Meta{}); !errors.Is(err, vaultstore.ErrInvalid) {
			t.Errorf("Put %q = %v, want ErrInvalid", a.String(), err)
		}
		if _, err := s.Get(ctx, a); !errors.Is(err, vaultstore.ErrInvalid) {
			t.Errorf("Get %q = %v, want ErrInvalid", a.String(), err)
		}
	}
	if _, err := s.Put(ctx, alice, "", vaultstore.Meta{}); !errors.Is(err, vaultstore.ErrInvalid) {
		t.Errorf("Put of an empty secret = %v, want ErrInvalid", err)
	}
	for _, opts := range []vaultstore.Options{
		{Path: "x.db"},
		{Path: "x.db", KeyFile: "k", Passphrase: "p"},
		{KeyFile: "k"},
		{Path: "x.db", KeyFile: "k", KeepVersions: -1},
	} {
		if _, err := vaultstore.Open(ctx, opts); !errors.Is(err, vaultstore.ErrInvalid) {
			t.Errorf("Open(%+v) = %v, want ErrInvalid", opts, err)
		}
	}
	s.Close()
	if _, err := s.Get(ctx, alice); !errors.Is(err, vaultstore.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	s, _ := filledStore(t)
	policy := vaultstore.Policy{Length: 16, Classes: []vaultstore.CharClass{vaultstore.Lower, vaultstore.Digit}}
	v, err := s.Rotate(ctx, sdk.Account{Domain: "corp", Username: "ALICE"}, policy)
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want version 2", v, err)
	}
	e, _ := s.Get(ctx, alice)
	if e.Version != 2 || e.Secret.Reveal() == alicePW {
		t.Fatalf("after Rotate, Get = version %d (same password: %v)", e.Version, e.Secret.Reveal() == alicePW)
	}
	if err := checkPolicy(e.Secret.Reveal(), policy); err != nil {
		t.Error(err)
	}
	vs, _ := s.Versions(ctx, alice)
	if len(vs) != 2 || vs[0].Origin != vaultstore.OriginPut || vs[1].Origin != vaultstore.OriginRotate {
		t.Errorf("Versions = %+v, want a put then a rotate", vs)
	}
	if _, err := s.Rotate(ctx, sdk.Account{Domain: "CORP", Username: "nobody"}, policy); !errors.Is(err, vaultstore.ErrNotFound) {
		t.Errorf("Rotate of a missing account = %v, want ErrNotFound", err)
	}
	if list, _ := s.List(ctx, "CORP"); len(list) != 2 {
		t.Errorf("Rotate of a missing account created it: %+v", list)
	}
}

// TestManyStores: stores on different files live side by side in one
// process, each with its own key.
func TestManyStores(t *testing.T) {
	ctx := context.Background()
	var stores []*vaultstore.Store
	for i := range 4 {
		opts := keyFileOptions(t)
		if i%2 == 1 {
			opts.KeyFile, opts.Passphrase, opts.Argon2 = "", sdk.Secret(fmt.Sprintf("pass-%d", i)), fastArgon2
		}
		s := open(t, opts)
		put(t, s, alice, fmt.Sprintf("store-%d", i))
		stores = append(stores, s)
	}
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			for range 50 {
				e, err := s.Get(ctx, alice)
				if err != nil || e.Secret.Reveal() != fmt.Sprintf("store-%d", i) {
					t.Errorf("store %d: Get = %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestConcurrent reads from many goroutines while another writes new
// versions and rotates; every read must return one of the passwords that
// account has had.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	opts := keyFileOptions(t)
	opts.KeepVersions = 2
	s := open(t, opts)
	const accounts = 10
	acct := func(i int) sdk.Account { return sdk.Account{Domain: "CORP", Username: fmt.Sprintf("user%d", i)} }
	for i := range accounts {
		put(t, s, acct(i), fmt.Sprintf("initial-%d", i))
	}
	policy := vaultstore.Policy{Length: 20, Classes: vaultstore.AllClasses}

	var wg sync.WaitGroup
	wg.Go(func() {
		for n := range 40 {
			a := acct(n % accounts)
			var err error
			if n%2 == 0 {
				_, err = s.Put(ctx, a, sdk.Secret(fmt.Sprintf("written-%d-%d", n%accounts, n)), vaultstore.Meta{})
			} else {
				_, err = s.Rotate(ctx, a, policy)
			}
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 100 {
				i := r.IntN(accounts)
				e, err := s.Get(ctx, acct(i))
				if err != nil {
					t.Errorf("reader %d: %v", g, err)
					return
				}
				pw := e.Secret.Reveal()
				ok := pw == fmt.Sprintf("initial-%d", i) ||
					strings.HasPrefix(pw, fmt.Sprintf("written-%d-", i)) ||
					checkPolicy(pw, policy) == nil
				if !ok {
					t.Errorf("reader %d: account %d returned a password it never had", g, i)
					return
				}
			}
		})
	}
	wg.Wait()
	if r, err := s.Verify(ctx); err != nil || len(r.Damaged) > 0 || r.Accounts != accounts {
		t.Errorf("Verify after concurrent use = %+v, %v", r, err)
	}
}
