package cloudsim

import (
	"sync"
	"time"
)

// faultSet is an ordered list of faults with their remaining budgets.
type faultSet struct {
	mu     sync.Mutex
	faults []Fault
}

func (fs *faultSet) set(faults []Fault) {
	fs.mu.Lock()
	fs.faults = append([]Fault(nil), faults...)
	fs.mu.Unlock()
}

func (fs *faultSet) add(f Fault) {
	fs.mu.Lock()
	fs.faults = append(fs.faults, f)
	fs.mu.Unlock()
}

func (fs *faultSet) list() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]Fault(nil), fs.faults...)
}

func (fs *faultSet) any() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.faults) > 0
}

// pick applies the faults in order to one request: latency faults add up
// and let the request go on; the first other fault that fires answers it.
// Budgets (After, Count) are spent under the lock so that "the next N
// requests" holds under concurrency.
func (fs *faultSet) pick(chance func(p float64) bool) (delay time.Duration, hit *Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.faults) == 0 {
		return 0, nil
	}
	kept := fs.faults[:0]
	for i := range fs.faults {
		f := fs.faults[i]
		if hit != nil {
			kept = append(kept, f)
			continue
		}
		if f.After > 0 {
			f.After--
			kept = append(kept, f)
			continue
		}
		if f.Probability > 0 && f.Probability < 1 && !chance(f.Probability) {
			kept = append(kept, f)
			continue
		}
		fired := f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				// Spent: drop it.
				if f.Kind == FaultLatency {
					delay += f.Latency.Duration
				} else {
					hit = &fired
				}
				continue
			}
		}
		kept = append(kept, f)
		if f.Kind == FaultLatency {
			delay += f.Latency.Duration
		} else {
			hit = &fired
		}
	}
	// Clear the tail so dropped faults do not linger in the backing array.
	for i := len(kept); i < len(fs.faults); i++ {
		fs.faults[i] = Fault{}
	}
	fs.faults = kept
	return delay, hit
}
