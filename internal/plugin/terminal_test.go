package plugin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/testkit"
)

// tmuxSession is a detached tmux session on a private server socket, so the
// test neither sees nor disturbs anyone else's tmux.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// screen is what the pane shows now.
func (s *tmuxSession) screen() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-t", "plugin")
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v\n%s", err, out)
	}
	return out
}

// waitFor polls the screen until it holds want, and returns the screen.
func (s *tmuxSession) waitFor(want string) string {
	s.t.Helper()
	var scr string
	testkit.Eventually(s.t, 20*time.Second, fmt.Sprintf("the screen to show %q", want), func() (bool, string) {
		scr = s.screen()
		return strings.Contains(scr, want), "the screen shows:\n" + scr
	})
	return scr
}

// buildPlugin builds the plugin binary once per test binary.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-cloudop")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/kubectl-cloudop")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestWatchTerminal runs `watch` in a real pseudo-terminal (a tmux pane,
// 100×30) while the test moves the operation's status along, and checks
// that the tree is redrawn in place — at every stage the screen shows it
// exactly once, with nothing left of the stage before — and that the exit
// code is 0 on Succeeded and 2 on Failed.
func TestWatchTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is required in CI for the terminal test")
		}
		t.Skip("tmux is not installed: terminal test skipped")
	}
	bin := buildPlugin(t)
	for _, tt := range []struct {
		end      opsv1.Phase
		wantCode int
	}{{opsv1.PhaseSucceeded, 0}, {opsv1.PhaseFailed, ExitOperationFailed}} {
		t.Run(string(tt.end), func(t *testing.T) {
			ns := newNamespace(t)
			obj := running("op")
			obj.Status.Steps = append(obj.Status.Steps,
				opsv1.OperationStep{StepStatus: opsv1.StepStatus{Name: "bindEip", Phase: opsv1.PhasePending}})
			obj = createWithStatus(t, ns, obj)

			s := &tmuxSession{t: t, socket: fmt.Sprintf("cloudop-plugin-test-%d", os.Getpid())}
			exitFile := filepath.Join(t.TempDir(), "exit")
			// The shell records the exit code, then keeps the pane open for
			// the last captures. NO_COLOR is removed so the plugin draws as
			// on any terminal.
			script := fmt.Sprintf("env -u NO_COLOR %s --kubeconfig %s -n %s watch op --timeout 60s; echo $? > %s; sleep 120",
				bin, kubeconfig, ns, exitFile)
			if out, err := s.tmux("new-session", "-d", "-s", "plugin", "-x", "100", "-y", "30", script); err != nil {
				t.Fatalf("tmux new-session: %v\n%s", err, out)
			}
			t.Cleanup(func() { _, _ = s.tmux("kill-server") })

			header := "op  ECS job-op"
			checkOnce := func(scr string, gone ...string) {
				t.Helper()
				if n := strings.Count(scr, header); n != 1 {
					t.Errorf("the tree's header is on the screen %d times, want once (redrawn in place):\n%s", n, scr)
				}
				for _, g := range gone {
					if strings.Contains(scr, g) {
						t.Errorf("the screen still shows %q from an earlier stage:\n%s", g, scr)
					}
				}
			}
			checkOnce(s.waitFor(" 10%"))

			setStatus(t, obj, func(st *opsv1.CloudOperationStatus) {
				p := int32(55)
				st.Progress = &p
				st.CurrentStep = "bindEip"
				st.Steps[0].Phase, st.Steps[0].ServiceStatus = opsv1.PhaseSucceeded, "SUCCESS"
				st.Steps[0].CompletionTime = &metav1.Time{Time: fixedNow}
				st.Steps[1].Phase, st.Steps[1].ServiceStatus = opsv1.PhaseRunning, "RUNNING"
				st.Steps[1].StartTime = &metav1.Time{Time: fixedNow}
			})
			checkOnce(s.waitFor(" 55%"), " 10%")

			setStatus(t, obj, func(st *opsv1.CloudOperationStatus) {
				p := int32(80)
				st.Progress = &p
			})
			checkOnce(s.waitFor(" 80%"), " 55%")

			finish(t, obj, tt.end, "Ecs.0013: Insufficient EIP quota.")
			s.waitFor(lookOf(tt.end).symbol + " " + string(tt.end))
			var code []byte
			testkit.Eventually(t, 20*time.Second, "watch to exit", func() (bool, string) {
				code, _ = os.ReadFile(exitFile)
				return len(code) > 0, "no exit code yet; screen:\n" + s.screen()
			})
			if got := strings.TrimSpace(string(code)); got != fmt.Sprint(tt.wantCode) {
				t.Errorf("watch exited with %q, want %d; screen:\n%s", got, tt.wantCode, s.screen())
			}
			checkOnce(s.screen(), "● Running")
		})
	}
}
