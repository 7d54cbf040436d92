package cloudsim

import (
	"sort"
	"sync"
	"time"
)

// simClock maps real (injected) time to simulated time. It is piecewise
// linear: each speed change or jump starts a new segment, so simulated time
// never goes back and operations keep their progress when the speed
// changes.
type simClock struct {
	mu   sync.RWMutex
	segs []segment
}

type segment struct {
	real, sim time.Time
	speed     float64
}

func newSimClock(now time.Time, speed float64) *simClock {
	return &simClock{segs: []segment{{real: now, sim: now, speed: speed}}}
}

func scale(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * f)
}

// simAt returns the simulated time at real time r.
func (c *simClock) simAt(r time.Time) time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.simAtLocked(r)
}

func (c *simClock) simAtLocked(r time.Time) time.Time {
	i := len(c.segs) - 1
	if r.Before(c.segs[i].real) {
		// An injected clock may step back; find the segment it falls in.
		i = sort.Search(len(c.segs), func(k int) bool { return c.segs[k].real.After(r) }) - 1
		if i < 0 {
			i = 0
		}
	}
	s := c.segs[i]
	return s.sim.Add(scale(r.Sub(s.real), s.speed))
}

// realAt returns the real time at which simulated time s was (or will be,
// at the current speed) reached. Response timestamps use it so that they
// are on the caller's clock, never in its future for past events.
func (c *simClock) realAt(s time.Time) time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i := sort.Search(len(c.segs), func(k int) bool { return c.segs[k].sim.After(s) }) - 1
	if i < 0 {
		i = 0
	}
	seg := c.segs[i]
	if seg.speed == 0 {
		return seg.real
	}
	r := seg.real.Add(scale(s.Sub(seg.sim), 1/seg.speed))
	if i+1 < len(c.segs) && r.After(c.segs[i+1].real) {
		// s fell inside a jump (Advance): it was reached at the jump.
		r = c.segs[i+1].real
	}
	return r
}

func (c *simClock) speed() float64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.segs[len(c.segs)-1].speed
}

// set starts a new segment at real time r with the given speed, after
// jumping simulated time forward by jump.
func (c *simClock) set(r time.Time, speed float64, jump time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sim := c.simAtLocked(r).Add(jump)
	last := c.segs[len(c.segs)-1]
	if r.Before(last.real) {
		r = last.real
	}
	if sim.Before(last.sim) {
		sim = last.sim
	}
	c.segs = append(c.segs, segment{real: r, sim: sim, speed: speed})
}
