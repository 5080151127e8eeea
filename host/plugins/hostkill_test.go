package plugins

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/sdk"
)

// TestHelperHost is not a test: TestPluginsDieWithKilledHost runs the test
// binary again with BYOV_TEST_HELPER_HOST set, to get a real host process
// it can SIGKILL.
func TestHelperHost(t *testing.T) {
	dir := os.Getenv("BYOV_TEST_HELPER_HOST")
	if dir == "" {
		t.Skip("helper process for TestPluginsDieWithKilledHost")
	}
	mgr, err := NewManager(Options{Dir: dir, ExecDir: filepath.Join(dir, "exec"), Logger: hclog.NewNullLogger()})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	inst, err := mgr.Configure(context.Background(), "test", "corp", nil, sdk.ServiceAccount{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("PLUGIN", inst.Plugin().Status().PID)
	select {}
}

func TestPluginsDieWithKilledHost(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "v1.0.0")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHost$", "-test.v")
	cmd.Env = append(os.Environ(), "BYOV_TEST_HELPER_HOST="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	pid := 0
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	for lines.Scan() {
		line := lines.Text()
		if rest, ok := strings.CutPrefix(line, "PLUGIN "); ok {
			pid, _ = strconv.Atoi(rest)
			break
		}
		if strings.HasPrefix(line, "ERROR") {
			t.Fatal(line)
		}
	}
	deadline.Stop()
	if pid == 0 || processGone(pid) {
		t.Fatalf("the helper host did not report a running plugin (pid %d)", pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	for !processGone(pid) {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("plugin process %d still runs 5 s after its host was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("plugin gone %s after the host was killed", time.Since(killed).Round(time.Millisecond))
}
