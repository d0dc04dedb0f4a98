package sqlitex

import (
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// WALVFS names the SQLite VFS that writes a transaction's WAL frames in as
// few system calls as it can (add vfs=WALVFS to a DSN). SQLite writes each
// frame of a commit with two pwrite calls, its 24-byte header and its page:
// under the orders load that was ~19 calls an order, a twelfth of serve's
// CPU. This VFS is the platform's own ("unix") with the WAL file's writes
// gathered: a write that starts where the one before it ended is appended
// to a buffer, and the buffer goes to the file in one pwrite once it holds
// the frame that commits a transaction (its header's database size is not
// zero), when it is full, before a write anywhere else (which goes to the
// file at once), and before any other call on the WAL file (a sync, a
// read, its size, a truncation, closing it).
//
// So a commit's frames are in the file when the write of its last frame
// returns, as with the platform's VFS: SQLite publishes the commit in the
// WAL index (where other connections find frames) only after that, and a
// write that fails fails that call, and the commit with it. What SQLite
// writes again of a transaction (a frame overwritten, the checksums after
// it) is written at once, so nothing of a commit waits for a later one.
const WALVFS = "billing-wal"

// walBuffer is how many bytes of consecutive WAL writes one pwrite takes:
// 31 frames of 4 KB pages, under the 128 KB the platform's VFS writes in
// one call (its seekAndWrite keeps 17 bits of a write's size).
const walBuffer = 31 * (walFrameHeader + 4096)

// walFrameHeader is the size of a WAL frame's header.
const walFrameHeader = 24

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
// Other files are the platform's, as it opens them.
type shimFile struct {
	methods uintptr // sqlite3_file.pMethods: &walMethods
	real    uintptr // the platform's file, right after this head
	buf     uintptr // the gathered writes (walBuffer bytes)
	off     int64   // the file offset of buf's first byte
	end     int64   // the file offset where the last write ended
	n       int32   // bytes gathered in buf
	commit  int32   // the last write was the header of a commit frame
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
		return open(tls, baseVFS, zName, pFile, flags, pOutFlags)
	}
	s := shim(pFile)
	*s = shimFile{real: pFile + shimSize}
	rc := open(tls, baseVFS, zName, s.real, flags, pOutFlags)
	if at[sqlite3.Tsqlite3_file](s.real).FpMethods != 0 {
		s.methods = uintptr(unsafe.Pointer(&walMethods))
	}
	return rc
}

// flush writes the WAL file's gathered writes.
func (s *shimFile) flush(tls *libc.TLS) int32 {
	if s.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n := s.n
	s.n = 0
	return callFunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](s.realMethods().FxWrite)(tls, s.real, s.buf, n, s.off)
}

// walWrite gathers a write that starts where the last one ended (see
// WALVFS).
func walWrite(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) int32 {
	s := shim(pFile)
	commits := s.commit != 0
	// A frame's header: bytes 4-7 hold the database's size in pages after
	// a commit, zero in the other frames of a transaction.
	s.commit = 0
	if n == walFrameHeader && *at[uint32](buf + 4) != 0 {
		s.commit = 1
	}
	if off != s.end || int(n) > walBuffer {
		// Not where the last write ended: the WAL's header as the log
		// restarts, or a frame or header of this transaction written again
		// (SQLite rewrites checksums after overwriting a frame). Written
		// at once, after what came before.
		if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
		s.end = off + int64(n)
		return callFunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](s.realMethods().FxWrite)(tls, s.real, buf, n, off)
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
	libc.Xmemcpy(tls, s.buf+uintptr(s.n), buf, uint64(n))
	s.n += n
	s.end = off + int64(n)
	if commits {
		return s.flush(tls)
	}
	return sqlite3.SQLITE_OK
}

// The WAL file's other methods are the platform's, called on its file;
// those that read the file, depend on its size or make it durable write
// what is gathered first.

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	s := shim(pFile)
	rc := s.flush(tls)
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
	if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](s.realMethods().FxRead)(tls, s.real, buf, n, off)
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	s := shim(pFile)
	if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFunc[func(*libc.TLS, uintptr, int64) int32](s.realMethods().FxTruncate)(tls, s.real, size)
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	s := shim(pFile)
	if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callFunc[func(*libc.TLS, uintptr, int32) int32](s.realMethods().FxSync)(tls, s.real, flags)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	s := shim(pFile)
	if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
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
	if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
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
