package bench

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
	"time"
)

// treeCPU counts a process's own CPU time and its children's, live and
// exited: a postmaster's figure must include its backends'.
func TestTreeCPUCountsChildren(t *testing.T) {
	// A child whose own child (waited for: its CPU counts as the child's
	// children's time) spins through a fixed amount of work, about a
	// second of CPU here; the child then says so and sleeps. Work, not wall
	// time, so that a busy machine cannot starve it below the bound.
	burn := exec.Command("sh", "-c", `sh -c 'i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done'; echo spun; exec sleep 60`)
	out, err := burn.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := burn.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { burn.Process.Kill(); burn.Wait() }()
	spun := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(out).ReadString('\n')
		spun <- err
	}()
	select {
	case err := <-spun:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the child did not finish spinning")
	}
	self, _ := procCPU(os.Getpid())
	tree := treeCPU(os.Getpid())
	// At least 0.2 s of the child's second of spinning, on a busy machine.
	if tree-self < 200*time.Millisecond {
		t.Fatalf("treeCPU = %v, own CPU %v: the child's spinning is not counted", tree, self)
	}
	if own, waited := procCPU(burn.Process.Pid); own+waited < 200*time.Millisecond {
		t.Fatalf("procCPU(child) = %v + %v waited for", own, waited)
	}
	if treeCPU(0) != 0 || treeCPU(-1) != 0 {
		t.Fatal("no process has CPU time")
	}
}

func TestOnHost(t *testing.T) {
	for _, tc := range []struct{ raw, node, want string }{
		{"ws://parley-bench.invalid/ws/abc?x=1", "http://127.0.0.1:4000", "ws://127.0.0.1:4000/ws/abc?x=1"},
		{"ws://127.0.0.1:5/ws", "http://127.0.0.1:6", "ws://127.0.0.1:6/ws"},
	} {
		if got := onHost(tc.raw, tc.node); got != tc.want {
			t.Errorf("onHost(%q, %q) = %q, want %q", tc.raw, tc.node, got, tc.want)
		}
	}
}
