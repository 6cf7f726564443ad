package distribute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/covdist/covdist/distribute/filesync"
	"github.com/covdist/covdist/distribute/wire"
)

// Remote workers see their own file system. Each package's test binary and
// directory are synchronised into the worker's workspace before its first
// unit there (by content hash, so a second run sends only what changed), and
// the unit's paths are rewritten to the workspace.

// remotePath maps a local file under base to where it lives in a workspace.
func remotePath(base, prefix, local string) (string, error) {
	rel, err := filepath.Rel(base, local)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside %s", local, base)
	}
	return path.Join(prefix, filepath.ToSlash(rel)), nil
}

// manifests builds and caches one sync manifest per package (and one for
// the --rsyncdir directories), shared by every worker.
type manifests struct {
	sync *Sync
	mu   sync.Mutex
	byID map[string]*filesync.Manifest
}

func (m *manifests) get(id string, trees []filesync.Tree) (*filesync.Manifest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mf, ok := m.byID[id]; ok {
		return mf, nil
	}
	mf, err := filesync.Build(trees, m.sync.Ignore)
	if err != nil {
		return nil, err
	}
	if m.byID == nil {
		m.byID = make(map[string]*filesync.Manifest)
	}
	m.byID[id] = mf
	return mf, nil
}

// packageTrees says what a package needs on a remote worker, and where.
func (m *manifests) packageTrees(b Binary) (trees []filesync.Tree, bin, dir string, err error) {
	if bin, err = remotePath(m.sync.BinDir, "bin", b.Path); err != nil {
		return nil, "", "", err
	}
	if dir, err = remotePath(m.sync.ModuleDir, "src", b.Dir); err != nil {
		return nil, "", "", err
	}
	return []filesync.Tree{{Local: b.Path, Remote: bin}, {Local: b.Dir, Remote: dir}}, bin, dir, nil
}

// dirTrees maps the --rsyncdir directories: inside the module, to the same
// place under src/; outside it, under ext/ by base name.
func (m *manifests) dirTrees() ([]filesync.Tree, error) {
	var trees []filesync.Tree
	for _, d := range m.sync.Dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		remote, err := remotePath(m.sync.ModuleDir, "src", abs)
		if err != nil {
			remote = path.Join("ext", filepath.Base(abs))
		}
		trees = append(trees, filesync.Tree{Local: abs, Remote: remote})
	}
	return trees, nil
}

// syncConn is the coordinator's end of a worker's stream during a sync: it
// sends on the stream and reads the agent's sync replies, which the worker's
// reader goroutine routes to it.
type syncConn struct {
	*remoteState
}

type frame struct {
	kind    wire.Kind
	payload []byte
}

func (s syncConn) Send(k wire.Kind, m any) error { return s.link.conn.Send(k, m) }
func (s syncConn) Bytes() (int64, int64)         { return s.link.conn.Bytes() }
func (s syncConn) Recv() (wire.Kind, []byte, error) {
	select {
	case f, ok := <-s.replies:
		if ok {
			return f.kind, f.payload, nil
		}
	case <-s.link.gone:
	}
	return 0, nil, io.ErrUnexpectedEOF
}

// remoteState is one remote worker connection's view of its workspace.
type remoteState struct {
	root    string // the agent's workspace, from its hello
	synced  map[string]bool
	replies chan frame // the agent's sync replies, from the link's reader
	link    *link
	send    func(msg) // to the coordinator's loop, as this connection
}

// unsyncableError is a package whose local files cannot be synced (a
// symbolic link out of its directory, a file over the size limit): no
// remote worker can run it, and nothing went wrong with the worker or
// its stream, since nothing was sent.
type unsyncableError struct {
	pkg string
	err error
}

func (e *unsyncableError) Error() string {
	return fmt.Sprintf("cannot sync %s to remote workers: %v", e.pkg, e.err)
}

func (e *unsyncableError) Unwrap() error { return e.err }

// prepare syncs what unit u needs and returns the paths it has there. An
// *unsyncableError leaves the stream as it was; any other error leaves
// it unusable.
func (c *coordinator) prepare(ctx context.Context, rs *remoteState, u *unit) (bin, dir string, err error) {
	if c.syncs == nil || c.plan.Sync == nil {
		return "", "", &unsyncableError{u.pkg, errors.New("a remote worker needs Plan.Sync")}
	}
	trees, bin, dir, err := c.syncs.packageTrees(u.binary)
	if err != nil {
		return "", "", &unsyncableError{u.pkg, err}
	}
	key := u.platform.Name + "\x00" + u.pkg
	if !rs.synced[key] {
		mf, err := c.syncs.get(key, trees)
		if err != nil {
			return "", "", &unsyncableError{u.pkg, err}
		}
		st, err := filesync.Push(ctx, syncConn{rs}, mf)
		if err != nil {
			return "", "", fmt.Errorf("syncing %s: %w", u.pkg, err)
		}
		c.synced(rs, st)
		rs.synced[key] = true
	}
	return path.Join(rs.root, bin), path.Join(rs.root, dir), nil
}

// pushDirs syncs the --rsyncdir directories once, right after the hello.
func (c *coordinator) pushDirs(ctx context.Context, rs *remoteState) error {
	if c.plan.Sync == nil || len(c.plan.Sync.Dirs) == 0 {
		return nil
	}
	trees, err := c.syncs.dirTrees()
	if err != nil {
		return err
	}
	mf, err := c.syncs.get("\x00rsyncdirs", trees)
	if err != nil {
		return fmt.Errorf("reading --rsyncdir files: %w", err)
	}
	st, err := filesync.Push(ctx, syncConn{rs}, mf)
	if err != nil {
		return fmt.Errorf("syncing --rsyncdir directories: %w", err)
	}
	c.synced(rs, st)
	return nil
}

// synced counts a sync's bytes and passes on what the agent left out.
func (c *coordinator) synced(rs *remoteState, st filesync.Stats) {
	c.syncBytes.Add(st.Bytes)
	c.syncWire.Add(st.Wire)
	if len(st.Refused) > 0 || st.RefusedMore > 0 {
		rs.send(msg{kind: msgRefused, sync: st})
	}
}

// onRefused says, once per host, which files a sync left out because the
// host cannot name them: the package's tests still run there, and one
// that reads such a file fails saying it is missing, which this note
// explains. Paths are the module's (src/ is the module in a workspace).
func (c *coordinator) onRefused(w *workerState, st filesync.Stats) {
	host := w.Gateway.String()
	if c.refusedSeen == nil {
		c.refusedSeen = make(map[string]bool)
	}
	var named []string
	for _, r := range st.Refused {
		key := host + "\x00" + r.Path
		if c.refusedSeen[key] {
			continue
		}
		c.refusedSeen[key] = true
		named = append(named, fmt.Sprintf("%s (%s)", printable(strings.TrimPrefix(r.Path, "src/")), printable(r.Why)))
	}
	more := st.RefusedMore
	if len(named) == 0 && more == 0 {
		return // named already, for another worker of the host
	}
	const show = 10
	if len(named) > show {
		more += len(named) - show
		named = named[:show]
	}
	list := strings.Join(named, ", ")
	if more > 0 {
		if list != "" {
			list += ", "
		}
		list += fmt.Sprintf("and %d more", more)
	}
	c.rep.Note(fmt.Sprintf("%s -> %s: not synced: %s", w.platform.Name, host, list))
}

// printable returns s, or s quoted when it holds what a terminal would not
// print as it is: the names and reasons come from the files and the agent.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}
