package sqlitex

import (
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// WALVFS names the SQLite VFS that writes each WAL frame in one system
// call (add vfs=WALVFS to a DSN). SQLite writes a frame with two pwrite
// calls, its 24-byte header and its page: under the orders load that was
// ~19 calls an order, a twelfth of serve's CPU. This VFS is the
// platform's own ("unix") with one change to the WAL file's writes: a
// frame's header, written where the log ends (the write before it ended
// there, and a frame starts there), is held until the next write, which
// SQLite always makes its page's, and the two go to the file in one
// pwrite. Any other write, read or call on the file writes a held header
// first.
//
// So nothing is held from one of SQLite's calls to write a frame to the
// next: every write SQLite makes is in the file when the call that makes
// it returns (the page's), and fails that call when it fails, as with the
// platform's VFS. Headers written again (SQLite rewrites checksums after a
// frame is overwritten in a transaction) are not where the log ends, and
// go to the file at once. Gathering more than a frame (a commit's frames
// in one write) would hold frames past the write that made them: a
// transaction that spills frames and rolls back makes no call on the WAL
// file, and frames held then would be written later over another
// process's commit.
const WALVFS = "billing-wal"

// walBuffer holds a frame's header and the largest page, under the 128 KB
// the platform's VFS writes in one call (its seekAndWrite keeps 17 bits of
// a write's size).
const walBuffer = walFrameHeader + 65536

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
// Other files are the platform's, as it opens them.
type shimFile struct {
	methods  uintptr // sqlite3_file.pMethods: &walMethods
	real     uintptr // the platform's file, right after this head
	buf      uintptr // a held frame header, and room for its page (walBuffer bytes)
	off      int64   // the file offset of the held header
	end      int64   // the file offset where the last write ended
	n        int32   // bytes held in buf: 0, or a frame header's
	pageSize int32   // the WAL's page size, from its header; 0 until read
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

// flush writes the held frame header, if any.
func (s *shimFile) flush(tls *libc.TLS) int32 {
	if s.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n := s.n
	s.n = 0
	return s.write(tls, s.buf, n, s.off)
}

// write is the platform file's xWrite.
func (s *shimFile) write(tls *libc.TLS, buf uintptr, n int32, off int64) int32 {
	return callFunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](s.realMethods().FxWrite)(tls, s.real, buf, n, off)
}

// walWrite holds a frame's header written where the log ends, and writes
// it with the page that follows it (see WALVFS).
func walWrite(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) int32 {
	s := shim(pFile)
	if s.n != 0 {
		if off == s.off+int64(s.n) && int(s.n)+int(n) <= walBuffer {
			libc.Xmemcpy(tls, s.buf+uintptr(s.n), buf, uint64(n))
			n += s.n
			s.n = 0
			s.end = s.off + int64(n)
			return s.write(tls, s.buf, n, s.off)
		}
		if rc := s.flush(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if off == 0 && n >= walHeader {
		s.pageSize = walPageSize(buf)
	}
	if n == walFrameHeader && off == s.end && s.frameStarts(tls, off) {
		if s.buf == 0 {
			if s.buf = sqlite3.Xsqlite3_malloc64(tls, walBuffer); s.buf == 0 {
				return sqlite3.SQLITE_NOMEM
			}
		}
		libc.Xmemcpy(tls, s.buf, buf, uint64(n))
		s.n, s.off, s.end = n, off, off+int64(n)
		return sqlite3.SQLITE_OK
	}
	s.end = off + int64(n)
	return s.write(tls, buf, n, off)
}

// frameStarts reports whether a frame starts at off, reading the page size
// from the WAL's header the first time (into buf, which it allocates). The
// header is written before any frame; where it cannot be read, nothing is
// held.
func (s *shimFile) frameStarts(tls *libc.TLS, off int64) bool {
	if s.pageSize == 0 {
		if s.buf == 0 {
			if s.buf = sqlite3.Xsqlite3_malloc64(tls, walBuffer); s.buf == 0 {
				return false
			}
		}
		read := callFunc[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](s.realMethods().FxRead)
		if read(tls, s.real, s.buf, walHeader, 0) != sqlite3.SQLITE_OK {
			return false
		}
		if s.pageSize = walPageSize(s.buf); s.pageSize == 0 {
			return false
		}
	}
	return off >= walHeader && (off-walHeader)%(walFrameHeader+int64(s.pageSize)) == 0
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
// a held header first (none is held between SQLite's calls).

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
