package protocol

// FileOp names a file operation.
type FileOp string

// Path operations (stream kind "file"): one request, one response.
const (
	OpReadFile FileOp = "read_file" // whole file (up to Size or MaxDataSize) + its Stat
	OpStat     FileOp = "stat"      // follows symlinks
	OpLstat    FileOp = "lstat"     // does not follow the last symlink
	OpReadDir  FileOp = "readdir"   // Entries
	OpReadLink FileOp = "readlink"  // Target
	OpMkdir    FileOp = "mkdir"     // Mode
	OpUnlink   FileOp = "unlink"    // a file or symlink
	OpRmdir    FileOp = "rmdir"     // an empty directory
	OpRename   FileOp = "rename"    // Path -> NewPath
	OpAccess   FileOp = "access"    // does the path exist (follows symlinks)
)

// OpOpen opens a handle (stream kind "open"). The stream then carries
// HandleRequest/Response pairs until the client closes it, which closes the
// file.
const OpOpen FileOp = "open"

// Handle operations, sent as HandleRequest on an open stream.
const (
	OpRead      FileOp = "read"      // up to Size bytes at the current offset; data = bytes (empty at EOF)
	OpPread     FileOp = "pread"     // up to Size bytes at Offset
	OpWrite     FileOp = "write"     // data at the current offset; File.N = bytes written
	OpPwrite    FileOp = "pwrite"    // data at Offset
	OpSeek      FileOp = "seek"      // Offset, Whence (0 set, 1 cur, 2 end); File.Offset = new offset
	OpFstat     FileOp = "fstat"     // File.Stat
	OpFtruncate FileOp = "ftruncate" // Size
	OpFsync     FileOp = "fsync"
)

// Open flags (Linux values). Other bits are refused.
const (
	ORdonly    = 0x0
	OWronly    = 0x1
	ORdwr      = 0x2
	OCreat     = 0x40
	OExcl      = 0x80
	OTrunc     = 0x200
	OAppend    = 0x400
	ODirectory = 0x10000
	ONofollow  = 0x20000
	OCloexec   = 0x80000
)

// OpenFlagsAllowed is the mask of flags an open may carry.
const OpenFlagsAllowed = ORdonly | OWronly | ORdwr | OCreat | OExcl | OTrunc | OAppend | ODirectory | ONofollow | OCloexec

// FileRequest is a path operation, or the open of a handle. Paths are
// absolute paths in the target's filesystem; relative paths are taken from
// its root.
type FileRequest struct {
	Op      FileOp `json:"op"`
	Path    string `json:"path"`
	NewPath string `json:"new_path,omitempty"`
	Flags   int    `json:"flags,omitempty"`
	Mode    uint32 `json:"mode,omitempty"`
	// Size limits read_file (0 = MaxDataSize).
	Size int64 `json:"size,omitempty"`
}

// HandleRequest is an operation on an open file; write data travels in the
// message's data part.
type HandleRequest struct {
	Op     FileOp `json:"op"`
	Size   int64  `json:"size,omitempty"`
	Offset int64  `json:"offset,omitempty"`
	Whence int    `json:"whence,omitempty"`
}

// FileResponse is the result of a file operation; read data travels in the
// message's data part.
type FileResponse struct {
	Stat    *Stat      `json:"stat,omitempty"`
	Entries []DirEntry `json:"entries,omitempty"`
	Target  string     `json:"target,omitempty"`
	Offset  int64      `json:"offset,omitempty"`
	N       int64      `json:"n,omitempty"`
}

// Stat is struct stat of a remote file.
type Stat struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Mode    uint32 `json:"mode"` // st_mode: type bits and permissions
	Nlink   uint64 `json:"nlink"`
	UID     uint32 `json:"uid"`
	GID     uint32 `json:"gid"`
	Rdev    uint64 `json:"rdev,omitempty"`
	Size    int64  `json:"size"`
	Blksize int64  `json:"blksize"`
	Blocks  int64  `json:"blocks"`
	AtimeNs int64  `json:"atime_ns"`
	MtimeNs int64  `json:"mtime_ns"`
	CtimeNs int64  `json:"ctime_ns"`
}

// DirEntry is one directory entry (like struct dirent).
type DirEntry struct {
	Name string `json:"name"`
	Ino  uint64 `json:"ino"`
	Type uint8  `json:"type"` // DT_* value
}

// Mode type bits (st_mode & S_IFMT).
const (
	SIfmt  = 0o170000
	SIfdir = 0o040000
	SIfreg = 0o100000
	SIflnk = 0o120000
)
