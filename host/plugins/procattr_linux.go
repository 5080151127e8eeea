package plugins

import (
	"os/exec"
	"syscall"
)

// dieWithHost asks the kernel to kill the plugin when the host dies. It is
// tied to the host thread that forked the child, so sdk.Serve also watches
// its parent.
func dieWithHost(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
