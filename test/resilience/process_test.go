package resilience

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// managerProcess is one run of the manager binary.
type managerProcess struct {
	// Name tells the runs of a test apart in logs ("a", "b", "run-2").
	Name string
	// LogPath receives the process's stdout and stderr.
	LogPath string
	// Started is when the process was started.
	Started time.Time

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	once sync.Once
}

// startManager starts the manager binary as managerUser with the flags
// every test uses (no metrics or probe listeners; metrics, when a test
// turns them on, over plain HTTP for its scraper) plus args. The process
// is killed at the end of the test if it is still running, and its log is
// shown when the test failed.
func startManager(t *testing.T, name string, extraEnv []string, args ...string) *managerProcess {
	t.Helper()
	p, err := launchManager(t, name, extraEnv, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launchManager is startManager for any goroutine: it returns the error.
func launchManager(t *testing.T, name string, extraEnv []string, args ...string) (*managerProcess, error) {
	logPath := filepath.Join(t.TempDir(), "manager-"+name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	base := []string{"--kubeconfig", managerKubeconfig, "--metrics-bind-address", "0", "--metrics-secure=false", "--health-probe-bind-address", "0"}
	cmd := exec.Command(managerBinary, append(base, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), extraEnv...)
	// Die with the test binary, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting manager %s: %w", name, err)
	}
	p := &managerProcess{Name: name, LogPath: logPath, Started: time.Now(), cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s log (last 30 lines):\n%s", p, p.tail(30))
		}
	})
	return p, nil
}

// Kill sends SIGKILL (no graceful shutdown, no lease release) and waits
// for the process to be gone.
func (p *managerProcess) Kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
	})
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// Terminate sends SIGTERM, as the kubelet does to a pod being replaced,
// and waits up to timeout for the process to end; it returns how the
// process ended.
func (p *managerProcess) Terminate(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("%s: sending SIGTERM: %w", p, err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running %v after SIGTERM", p, timeout)
	}
}

// Exited reports whether the process has ended, and how.
func (p *managerProcess) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Log returns what the process has written so far.
func (p *managerProcess) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

func (p *managerProcess) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logContains reports whether the process has logged s.
func (p *managerProcess) logContains(s string) bool {
	return strings.Contains(p.Log(), s)
}

// Done is closed when the process has ended.
func (p *managerProcess) Done() <-chan struct{} { return p.done }

// String names the run and its process ID.
func (p *managerProcess) String() string {
	return fmt.Sprintf("manager %s (pid %d)", p.Name, p.cmd.Process.Pid)
}

// exit is one end of a supervised manager run.
type exit struct {
	// At is when the process was killed, or when its end was noticed.
	At time.Time
	// Killed is true for a SIGKILL sent by the test.
	Killed bool
	// Err is how the process ended.
	Err error
	// Run is the process that ended.
	Run string
}

// supervisor keeps one manager process running, like a kubelet restarting
// a crashed container: whenever the process ends it starts a new one
// after a delay. Tests kill the current process with Kill.
type supervisor struct {
	t     *testing.T
	name  string
	env   []string
	args  []string
	delay time.Duration

	mu      sync.Mutex
	cur     *managerProcess
	runs    int
	exits   []exit
	killing bool
	stopped bool
	err     error
	done    chan struct{}
}

// supervise starts the first run and the restart loop until the test
// ends.
func supervise(t *testing.T, name string, delay time.Duration, env []string, args ...string) *supervisor {
	t.Helper()
	s := &supervisor{t: t, name: name, env: env, args: args, delay: delay, done: make(chan struct{})}
	s.cur = startManager(t, s.runName(), env, args...)
	go s.loop()
	t.Cleanup(s.stop)
	return s
}

func (s *supervisor) runName() string {
	s.runs++
	return fmt.Sprintf("%s-%d", s.name, s.runs)
}

func (s *supervisor) loop() {
	defer close(s.done)
	for {
		s.mu.Lock()
		p := s.cur
		s.mu.Unlock()
		<-p.Done()
		_, err := p.Exited()
		s.mu.Lock()
		if !s.killing {
			s.exits = append(s.exits, exit{At: time.Now(), Err: err, Run: p.Name})
		}
		s.killing = false
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return
		}
		time.Sleep(s.delay)
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		next, err := launchManager(s.t, s.runName(), s.env, s.args...)
		if err != nil {
			s.err = err
			s.mu.Unlock()
			return
		}
		s.cur = next
		s.mu.Unlock()
	}
}

// Kill sends SIGKILL to the current process (the loop restarts it) and
// returns when it is gone. It is safe to call from any goroutine.
func (s *supervisor) Kill() {
	s.mu.Lock()
	p := s.cur
	if s.killing || s.stopped {
		s.mu.Unlock()
		return
	}
	if exited, _ := p.Exited(); exited {
		s.mu.Unlock()
		return
	}
	s.killing = true
	s.exits = append(s.exits, exit{At: time.Now(), Killed: true, Run: p.Name})
	s.mu.Unlock()
	p.Kill()
}

// Current returns the running process (or the one that just ended).
func (s *supervisor) Current() *managerProcess {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Exits returns every end of a run so far, killed or not.
func (s *supervisor) Exits() []exit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]exit(nil), s.exits...)
}

// Runs is how many processes were started.
func (s *supervisor) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// Err is the error that stopped the restart loop, if any.
func (s *supervisor) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *supervisor) stop() {
	s.mu.Lock()
	s.stopped = true
	p := s.cur
	s.mu.Unlock()
	p.Kill()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
	}
}
