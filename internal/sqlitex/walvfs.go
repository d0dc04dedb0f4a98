package sqlitex

import (
	"slices"
	"strings"
	"sync"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// WALVFS names the SQLite VFS that writes a transaction's WAL frames in
// as few system calls as it can (add vfs=WALVFS to a DSN). SQLite writes
// each frame with two pwrite calls, its 24-byte header and its page: under
// the orders load that was ~19 calls an order, a twelfth of serve's CPU.
// This VFS is the platform's own ("unix") with the WAL file's writes
// gathered: a write that starts where the one before it ended is appended
// to a buffer, and the buffer goes to the file in one pwrite
//   - once it holds the rest of the frame that commits a transaction (a
//     frame whose header records the database's size; where it ends is
//     known from the WAL's page size, whether the header was gathered or
//     written at once);
//   - when it is full, and before a write anywhere else (which goes to
//     the file at once: the WAL's header as the log restarts, checksums
//     SQLite rewrites);
//   - before any other call on the WAL file (a read, a sync, its size, a
//     truncation, closing it);
//   - before the transaction's connection releases the WAL's write lock
//     (the database file's shared-memory lock 0, found by the database's
//     path), whether the transaction committed or rolled back: frames written
//     before a rollback (a transaction larger than its cache spills them)
//     are in the file before another writer may write there, as with the
//     platform's VFS.
//
// So a commit's frames are in the file when the write of its last frame
// returns, before SQLite publishes the commit in the WAL index, and
// nothing is held once the write lock is released. A write of the buffer
// that fails fails the call that made it, and every later call on the WAL
// file until the write lock is released, so that the transaction can no
// longer commit, as SQLite's own error handling would have it had the
// write failed where it was made.
//
// Not for exclusive locking mode, which no connection of billing's uses:
// it takes no shared-memory locks, so a failed write would stay until the
// connection closes.
const WALVFS = "billing-wal"

// walBuffer is how many bytes of consecutive WAL writes one pwrite takes:
// 31 frames of 4 KB pages, under the 128 KB the platform's VFS writes in
// one call (its seekAndWrite keeps 17 bits of a write's size).
const walBuffer = 31 * (walFrameHeader + 4096)

// walFrameHeader and walHeader are the sizes of a WAL frame's header and of
// the WAL file's header.
const (
	walFrameHeader = 24
	walHeader      = 32
)

var registerWALVFS = sync.OnceValue(func() int32 {
	tls := libc.NewTLS()
	defer tls.Close()
	base := sqlite3.Xsqlite3_vfs_find(tls, 0)
	if base == 0 {
		return sqlite3.SQLITE_ERROR
	}
	name, err := libc.CString(WALVFS)
	if err != nil {
		return sqlite3.SQLITE_NOMEM
	}
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
	if p == 0 {
		return sqlite3.SQLITE_NOMEM
	}
	vfs := at[sqlite3.Tsqlite3_vfs](p)
	*vfs = *at[sqlite3.Tsqlite3_vfs](base)
	baseVFS = base
	vfs.FszOsFile = int32(shimSize) + vfs.FszOsFile
	vfs.FpNext = 0
	vfs.FzName = name
	vfs.FxOpen = cFunc(shimOpen)
	return sqlite3.Xsqlite3_vfs_register(tls, p, 0)
})

// RegisterWALVFS registers WALVFS, once; call it before opening a
// connection that names it.
func RegisterWALVFS() error {
	if rc := registerWALVFS(); rc != sqlite3.SQLITE_OK {
		return sqliteError(rc)
	}
	return nil
}

type sqliteError int32

func (e sqliteError) Error() string {
	return "register the " + WALVFS + " SQLite VFS: " + libc.GoString(sqlite3.Xsqlite3_errstr(nil, int32(e)))
}

// baseVFS is the platform's VFS, which the shim's files wrap.
var baseVFS uintptr

// shimFile is the head of a WAL file the VFS opens, in SQLite's memory;
// the platform's file follows it. Only integers: SQLite owns the memory.
// Other files are the platform's, as it opens them; a database file's
// method table is the platform's with its locks wrapped (dbMethods).
type shimFile struct {
	methods   uintptr // sqlite3_file.pMethods: &walMethods
	real      uintptr // the platform's file, right after this head
	buf       uintptr // the gathered writes (walBuffer bytes)
	off       int64   // the file offset of buf's first byte
	end       int64   // the file offset where the last write ended
	commitEnd int64   // where the commit frame being gathered ends; 0 if none
	n         int32   // bytes gathered in buf
	pageSize  int32   // the WAL's page size, from its header; 0 until read
	failed    int32   // a failed write of the buffer, until the write lock goes
}

var shimSize = (unsafe.Sizeof(shimFile{}) + 7) &^ 7

func shim(p uintptr) *shimFile { return at[shimFile](p) }

// realMethods is the platform file's method table.
func (s *shimFile) realMethods() *sqlite3.Tsqlite3_io_methods {
	return at[sqlite3.Tsqlite3_io_methods](at[sqlite3.Tsqlite3_file](s.real).FpMethods)
}

// walMethods is the method table of the WAL files the VFS opens: version
// 1, as a WAL file has no shared memory and is not mapped.
var walMethods = sqlite3.Tsqlite3_io_methods{
	FiVersion:               1,
	FxClose:                 cFunc(walClose),
	FxRead:                  cFunc(walRead),
	FxWrite:                 cFunc(walWrite),
	FxTruncate:              cFunc(walTruncate),
	FxSync:                  cFunc(walSync),
	FxFileSize:              cFunc(walFileSize),
	FxLock:                  cFunc(walLock),
	FxUnlock:                cFunc(walUnlock),
	FxCheckReservedLock:     cFunc(walCheckReservedLock),
	FxFileControl:           cFunc(walFileControl),
	FxSectorSize:            cFunc(walSectorSize),
	FxDeviceCharacteristics: cFunc(walDeviceCharacteristics),
}

// shimOpen opens a file with the platform's VFS; a WAL file behind a
// shimFile head.
func shimOpen(tls *libc.TLS, _, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	base := at[sqlite3.Tsqlite3_vfs](baseVFS)
	open := callFunc[func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32](base.FxOpen)
	if flags&sqlite3.SQLITE_OPEN_WAL == 0 {
		rc := open(tls, baseVFS, zName, pFile, flags, pOutFlags)
		if f := at[sqlite3.Tsqlite3_file](pFile); flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0 && f.FpMethods != 0 {
			orig := f.FpMethods
			if f.FpMethods = dbMethods(orig); f.FpMethods == 0 {
				callFunc[func(*libc.TLS, uintptr) int32](at[sqlite3.Tsqlite3_io_methods](orig).FxClose)(tls, pFile)
				return sqlite3.SQLITE_NOMEM
			}
		}
		return rc
	}
	s := shim(pFile)
	*s = shimFile{real: pFile + shimSize}
	rc := open(tls, baseVFS, zName, s.real, flags, pOutFlags)
	if at[sqlite3.Tsqlite3_file](s.real).FpMethods != 0 {
		s.methods = uintptr(unsafe.Pointer(&walMethods))
		wals.add(strings.TrimSuffix(libc.GoString(zName), "-wal"), pFile)
	}
	return rc
}

// wals are the open WAL files by the path of their database (SQLite
// names a WAL after its database).
var wals = walFiles{byDB: map[string][]uintptr{}}

type walFiles struct {
	mu   sync.Mutex
	byDB map[string][]uintptr
}

func (w *walFiles) add(db string, pFile uintptr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.byDB[db] = append(w.byDB[db], pFile)
}

func (w *walFiles) remove(pFile uintptr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for db, files := range w.byDB {
		if i := slices.Index(files, pFile); i >= 0 {
			if files = slices.Delete(files, i, i+1); len(files) > 0 {
				w.byDB[db] = files
			} else {
				delete(w.byDB, db)
			}
			return
		}
	}
}

// endWrite writes what the WAL files of the database at db gathered and
// forgets their failures: a connection is about to release the database's
// write lock, which it alone holds, so only its files (whichever TLS
// SQLite calls them with, as a backup's do) hold anything; the others are
// only read, as their connections may be using them. A failure to write
// here is of frames no commit holds (a commit's are written before it
// returns): those of a transaction rolled back.
func (w *walFiles) endWrite(tls *libc.TLS, db string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.byDB[db] {
		s := shim(p)
		if s.n != 0 {
			s.flush(tls) //nolint:errcheck // see above
		}
		if s.failed != sqlite3.SQLITE_OK || s.commitEnd != 0 {
			s.failed, s.commitEnd = sqlite3.SQLITE_OK, 0
		}
	}
}

// dbPath is the path of the database file pFile (a unix VFS file), read
// in place, not copied: every write transaction's end looks it up, and it
// is valid only while SQLite keeps the file open (no one may keep it).
func dbPath(pFile uintptr) string {
	p := at[sqlite3.TunixFile](pFile).FzPath
	if p == 0 {
		return ""
	}
	return unsafe.String(at[byte](p), libc.Xstrlen(nil, p))
}

// dbMethods is a copy of a database file's method table orig whose
// shared-memory lock calls write the gathered WAL writes before the write
// lock goes, followed by orig's address (see origMethods); 0 if there is
// no memory for it. One copy per table, made once.
func dbMethods(orig uintptr) uintptr {
	dbTables.mu.Lock()
	defer dbTables.mu.Unlock()
	if p, ok := dbTables.wrapped[orig]; ok {
		return p
	}
	tls := libc.NewTLS()
	defer tls.Close()
	size := unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})
	p := libc.Xmalloc(tls, types.Size_t(size+unsafe.Sizeof(uintptr(0))))
	if p == 0 {
		return 0
	}
	m := at[sqlite3.Tsqlite3_io_methods](p)
	*m = *at[sqlite3.Tsqlite3_io_methods](orig)
	if m.FiVersion >= 2 && m.FxShmLock != 0 {
		m.FxShmLock = cFunc(dbShmLock)
	}
	*at[uintptr](p + size) = orig
	dbTables.wrapped[orig] = p
	return p
}

var dbTables = struct {
	mu      sync.Mutex
	wrapped map[uintptr]uintptr
}{wrapped: map[uintptr]uintptr{}}

// origMethods is the platform's method table of a database file, whose
// address follows the copy dbMethods made (no lock: every shared-memory
// lock of every connection comes here).
func origMethods(pFile uintptr) *sqlite3.Tsqlite3_io_methods {
	copied := at[sqlite3.Tsqlite3_file](pFile).FpMethods
	return at[sqlite3.Tsqlite3_io_methods](*at[uintptr](copied + unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})))
}

// dbShmLock is the database file's xShmLock: before the WAL's write lock
// (lock 0) is released, the connection's WAL writes go to the file.
func dbShmLock(tls *libc.TLS, pFile uintptr, ofst, n, flags int32) int32 {
	if ofst == 0 && flags&sqlite3.SQLITE_SHM_UNLOCK != 0 {
		wals.endWrite(tls, dbPath(pFile))
	}
	return callFunc[func(*libc.TLS, uintptr, int32, int32, int32) int32](origMethods(pFile).FxShmLock)(tls, pFile, ofst, n, flags)
}

// flush writes the WAL file's gathered writes. A failure stays: every
// later call on the file fails with it until the write lock is released.
func (s *shimFile) flush(tls *libc.TLS) int32 {
	if s.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n := s.n
	s.n = 0
	rc := s.write(tls, s.buf, n, s.off)
	if rc != sqlite3.SQLITE_OK {
		s.failed = rc
	}
	return rc
}

// settle is flush for the calls that read or sync the file: it fails
// with an earlier failure too.
func (s *shimFile) settle(tls *libc.TLS) int32 {
	if s.failed != sqlite3.SQLITE_OK {
		return s.failed
	}
	return s.flush(tls)
}

// read is the platform file's xRead.
func (s *shimFile) read(tls *libc.TLS, buf uintptr, n int32, off int64) int32 {
	return callFunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](s.realMethods().FxRead)(tls, s.real, buf, n, off)
}

// write is the platform file's xWrite.
func (s *shimFile) write(tls *libc.TLS, buf uintptr, n int32, off int64) int32 {
	return callFunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](s.realMethods().FxWrite)(tls, s.real, buf, n, off)
}

// walWrite gathers a write that starts where the last one ended (see
// WALVFS).
func walWrite(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) int32 {
	s := shim(pFile)
	if s.failed != sqlite3.SQLITE_OK {
		return s.failed
	}
	if off == 0 && n >= walHeader {
		s.pageSize = walPageSize(buf)
	}
	if s.pageSize == 0 && s.n == 0 && off >= walHeader {
		s.readPageSize(tls)
	}
	if off != s.end || int(n) > walBuffer || s.pageSize == 0 {
		// Not where the last write ended (the WAL's header as the log
		// restarts, a frame or header of this transaction written again),
		// or the page size, and so where frames end, unknown: written at
		// once, after what came before.
		if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
		s.markCommit(buf, n, off)
		s.end = off + int64(n)
		return s.write(tls, buf, n, off)
	}
	if int(s.n)+int(n) > walBuffer {
		if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if s.buf == 0 {
		if s.buf = sqlite3.Xsqlite3_malloc64(tls, walBuffer); s.buf == 0 {
			return sqlite3.SQLITE_NOMEM
		}
	}
	if s.n == 0 {
		s.off = off
	}
	s.markCommit(buf, n, off)
	libc.Xmemcpy(tls, s.buf+uintptr(s.n), buf, uint64(n))
	s.n += n
	s.end = off + int64(n)
	if s.commitEnd != 0 && s.end >= s.commitEnd {
		s.commitEnd = 0
		return s.flush(tls)
	}
	return sqlite3.SQLITE_OK
}

// markCommit notes where a commit frame ends when the write at off is its
// header, or the header's first part (SQLite splits a write at a sync
// point when it pads a commit without powersafe overwrite), gathered or
// not: what follows it, written next, may be gathered.
// Bytes 4-7 of a frame's header hold the database's size in pages after
// the commit, zero in the other frames.
func (s *shimFile) markCommit(buf uintptr, n int32, off int64) {
	if n >= 8 && n <= walFrameHeader && s.pageSize != 0 && off >= walHeader && *at[uint32](buf + 4) != 0 &&
		(off-walHeader)%(walFrameHeader+int64(s.pageSize)) == 0 {
		s.commitEnd = off + walFrameHeader + int64(s.pageSize)
	}
}

// readPageSize reads the page size from the WAL's header, written before
// any frame, into buf (empty), which it allocates; where it cannot, the
// page size stays unknown and nothing is gathered.
func (s *shimFile) readPageSize(tls *libc.TLS) {
	if s.buf == 0 {
		if s.buf = sqlite3.Xsqlite3_malloc64(tls, walBuffer); s.buf == 0 {
			return
		}
	}
	if s.read(tls, s.buf, walHeader, 0) == sqlite3.SQLITE_OK {
		s.pageSize = walPageSize(s.buf)
	}
}

// walPageSize is the page size a WAL header at p records (big-endian, at
// byte 8), 0 if it is not one SQLite uses.
func walPageSize(p uintptr) int32 {
	b := at[[walHeader]byte](p)
	size := int32(b[8])<<24 | int32(b[9])<<16 | int32(b[10])<<8 | int32(b[11])
	if size == 1 { // how the header records 65536
		size = 65536
	}
	if size < 512 || size > 65536 || size&(size-1) != 0 {
		return 0
	}
	return size
}

// The WAL file's other methods are the platform's, called on its file;
// those that read the file, depend on its size or make it durable write
// what is gathered first.

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	s := shim(pFile)
	wals.remove(pFile)
	rc := s.settle(tls)
	if s.buf != 0 {
		sqlite3.Xsqlite3_free(tls, s.buf)
		s.buf = 0
	}
	if rc2 := callFunc[func(*libc.TLS, uintptr) int32](s.realMethods().FxClose)(tls, s.real); rc == sqlite3.SQLITE_OK {
		rc = rc2
	}
	return rc
}

func walRead(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) int32 {
	s := shim(pFile)
	if rc := s.settle(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return s.read(tls, buf, n, off)
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	s := shim(pFile)
	if rc := s.settle(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFunc[func(*libc.TLS, uintptr, int64) int32](s.realMethods().FxTruncate)(tls, s.real, size)
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	s := shim(pFile)
	if rc := s.settle(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFunc[func(*libc.TLS, uintptr, int32) int32](s.realMethods().FxSync)(tls, s.real, flags)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	s := shim(pFile)
	if rc := s.settle(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFunc[func(*libc.TLS, uintptr, uintptr) int32](s.realMethods().FxFileSize)(tls, s.real, pSize)
}

func walLock(tls *libc.TLS, pFile uintptr, level int32) int32 {
	s := shim(pFile)
	return callFunc[func(*libc.TLS, uintptr, int32) int32](s.realMethods().FxLock)(tls, s.real, level)
}

func walUnlock(tls *libc.TLS, pFile uintptr, level int32) int32 {
	s := shim(pFile)
	return callFunc[func(*libc.TLS, uintptr, int32) int32](s.realMethods().FxUnlock)(tls, s.real, level)
}

func walCheckReservedLock(tls *libc.TLS, pFile, pResOut uintptr) int32 {
	s := shim(pFile)
	return callFunc[func(*libc.TLS, uintptr, uintptr) int32](s.realMethods().FxCheckReservedLock)(tls, s.real, pResOut)
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	s := shim(pFile)
	if rc := s.settle(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFunc[func(*libc.TLS, uintptr, int32, uintptr) int32](s.realMethods().FxFileControl)(tls, s.real, op, pArg)
}

func walSectorSize(tls *libc.TLS, pFile uintptr) int32 {
	s := shim(pFile)
	return callFunc[func(*libc.TLS, uintptr) int32](s.realMethods().FxSectorSize)(tls, s.real)
}

func walDeviceCharacteristics(tls *libc.TLS, pFile uintptr) int32 {
	s := shim(pFile)
	return callFunc[func(*libc.TLS, uintptr) int32](s.realMethods().FxDeviceCharacteristics)(tls, s.real)
}

// cFunc is f as SQLite's C code holds a function pointer (see
// modernc.org/sqlite's cFuncPointer): f must be a top-level function.
func cFunc[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// callFunc is the function SQLite's C code holds as pointer p.
func callFunc[T any](p uintptr) T {
	return *(*T)(unsafe.Pointer(&struct{ p uintptr }{p}))
}

// at is the memory at SQLite's address p (memory SQLite owns, which the
// collector does not move or free).
func at[T any](p uintptr) *T {
	return *(**T)(unsafe.Pointer(&p))
}
