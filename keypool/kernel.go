package keypool

import (
	"path/filepath"
	"reflect"
	"time"

	"github.com/gonbchat/gonbchat/internal/kernel"
)

// In gonbchat's kernel mode (see internal/kernel) a chat runs in the kernel's helper process: a
// pool given to chatcell.WithKeyPool crosses as its keys and settings, and the helper makes the
// same pool, which shares its state with this one through the state directory (a pool without a
// state directory starts afresh there, as it would in another cell).
func init() { kernel.PoolSpec = poolSpec }

func poolSpec(p any) (kernel.PoolData, bool) {
	pool, ok := p.(*Pool)
	if !ok || pool == nil || pool.c == nil {
		return kernel.PoolData{}, false
	}
	c := pool.c
	d := kernel.PoolData{Name: c.name, Cooldown: int64(c.cooldown), MaxWait: int64(c.maxWait)}
	for _, k := range c.keys {
		d.Keys = append(d.Keys, k.value)
	}
	if fs, ok := c.store.(*fileStore); ok {
		d.StateDir = filepath.Dir(fs.path)
	}
	switch {
	case c.notify != nil:
		d.Err = "WithKeyPool: a pool with WithNotify cannot reach the kernel's gonbchat helper (kernel mode): its function stays in the cell"
	case !sameFunc(c.now, time.Now) || !sameFunc(c.sleep, sleepCtx):
		d.Err = "WithKeyPool: a pool with WithClock or WithSleep cannot reach the kernel's gonbchat helper (kernel mode)"
	}
	return d, true
}

func sameFunc(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
