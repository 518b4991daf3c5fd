/* files.c: the files the command line reads and writes, safe against whatever another user of a
 * shared directory planted in advance (a symlink, a FIFO, a device, a huge file).
 *
 * core.open_output(path [, { named = true }]) -> file | nil, message
 *   A new file that becomes `path` only at file:commit(), atomically (renamed over it). On Linux it is
 *   created with O_TMPFILE in path's directory: it has no name until the commit, so nothing is left
 *   behind when the process dies, even by SIGKILL. Where O_TMPFILE is not available (or with
 *   named = true) it is "NAME.tmp-" and 16 hex digits from getrandom(2), created with
 *   O_CREAT|O_EXCL|O_NOFOLLOW: never an existing file, never through a symlink. Its mode is the
 *   permission bits of the file it replaces (a 0600 file stays 0600; only a regular file, never a
 *   symlink's target, gives its mode), else 0666 less the umask, as for any new file.
 *   file:write(...) -> file | nil, message   (strings or numbers, buffered)
 *   file:commit() -> true | nil, message     (flushed, fsync'ed, linked into place; the file is closed)
 *   file:abort()                              (nothing is left; also __gc and __close; idempotent)
 *   file:temp_name() -> the temporary file's name, or nil while it has none (O_TMPFILE)
 * core.read_file(path, max_bytes) -> text, info | nil, message, reason
 *   Only a regular file of at most max_bytes is read: it is opened with O_NONBLOCK|O_NOCTTY (a FIFO
 *   cannot block the open) and checked with fstat before the first read. reason: "missing" (ENOENT,
 *   ENOTDIR), "interrupted" (EINTR: a trapped signal arrived), "not_file", "too_large", "error".
 *   info = { type = "file", mode = permission bits, owner = uid, mine = owned by the effective user,
 *   size = bytes }
 * core.file_info(path [, follow = true]) -> info | nil, message, reason   (stat, or lstat)
 *   info.type: "file", "directory", "fifo", "char", "block", "socket", "link", "other". */
#define _GNU_SOURCE /* O_TMPFILE, AT_SYMLINK_FOLLOW (before any system header) */

#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#define OUT_BUFFER 65536
#define NAME_LEN 255      /* NAME_MAX of Linux file systems */
#define TEMP_TAG ".tmp-"  /* NAME.tmp-<16 hex digits> */
#define TEMP_TRIES 64

typedef struct {
	int fd;       /* the file being written; -1 once closed */
	int dirfd;    /* the target's directory; -1 once closed */
	int dir_sync; /* dirfd can be fsync'ed (opened for reading, not O_PATH) */
	int unnamed;  /* created with O_TMPFILE: no name until the commit */
	int done;     /* committed or aborted */
	size_t used;  /* bytes waiting in buf */
	char base[NAME_LEN + 1]; /* the target's name in dirfd */
	char temp[NAME_LEN + 1]; /* the temporary file's name in dirfd ("" while it has none) */
	char buf[OUT_BUFFER];
} out_file;

/* ------------------------------------------------------------------------------------------------
 * helpers */

static int push_failure(lua_State *L, const char *message, const char *reason)
{
	lua_pushnil(L);
	lua_pushstring(L, message);
	if (!reason)
		return 2;
	lua_pushstring(L, reason);
	return 3;
}

static const char *reason_of(int err)
{
	if (err == ENOENT || err == ENOTDIR)
		return "missing";
	if (err == EINTR)
		return "interrupted";
	return "error";
}

static const char *type_of(mode_t m)
{
	if (S_ISREG(m))
		return "file";
	if (S_ISDIR(m))
		return "directory";
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISCHR(m))
		return "char";
	if (S_ISBLK(m))
		return "block";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISLNK(m))
		return "link";
	return "other";
}

static void push_info(lua_State *L, const struct stat *st)
{
	lua_createtable(L, 0, 5);
	lua_pushstring(L, type_of(st->st_mode));
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, (lua_Integer)(st->st_mode & 07777));
	lua_setfield(L, -2, "mode");
	lua_pushinteger(L, (lua_Integer)st->st_uid);
	lua_setfield(L, -2, "owner");
	lua_pushboolean(L, st->st_uid == geteuid());
	lua_setfield(L, -2, "mine");
	usage_pushcount(L, (long long)st->st_size);
	lua_setfield(L, -2, "size");
}

/* 16 hex digits from the kernel's random source (getrandom, else /dev/urandom): 0, or -1 and errno */
static int random_hex(char out[17])
{
	unsigned char bytes[8];
	size_t got = 0;
#if defined(__linux__)
	while (got < sizeof bytes) {
		ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
#endif
	if (got < sizeof bytes) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return -1;
		while (got < sizeof bytes) {
			ssize_t n = read(fd, bytes + got, sizeof bytes - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				int e = n < 0 ? errno : EIO;
				(void)close(fd); /* read-only: nothing to lose */
				errno = e;
				return -1;
			}
			got += (size_t)n;
		}
		if (close(fd) != 0 && errno != EINTR)
			return -1;
	}
	static const char HEX[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof bytes; i++) {
		out[2 * i] = HEX[bytes[i] >> 4];
		out[2 * i + 1] = HEX[bytes[i] & 15];
	}
	out[16] = '\0';
	return 0;
}

/* a fresh random temporary name for base into out (the base cut so that the name fits NAME_LEN) */
static int temp_name(const char *base, char out[NAME_LEN + 1])
{
	char hex[17];
	if (random_hex(hex) != 0)
		return -1;
	int room = NAME_LEN - (int)(sizeof TEMP_TAG - 1) - 16;
	int n = snprintf(out, NAME_LEN + 1, "%.*s%s%s", room, base, TEMP_TAG, hex);
	if (n < 0 || n > NAME_LEN) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static ssize_t write_all(int fd, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue; /* a trapped signal: the Lua side looks at it once the write is over */
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

/* ------------------------------------------------------------------------------------------------
 * core.open_output */

static out_file *check_file(lua_State *L)
{
	out_file *f = luaL_checkudata(L, 1, USAGE_FILE_MT);
	if (f->done)
		luaL_argerror(L, 1, "the file is already committed or aborted");
	return f;
}

/* close everything and remove the temporary file's name; errors are of no use here (the file is
 * being thrown away), so they are deliberately ignored */
static void discard(out_file *f)
{
	if (f->fd >= 0) {
		(void)close(f->fd);
		f->fd = -1;
	}
	if (f->temp[0] && f->dirfd >= 0)
		(void)unlinkat(f->dirfd, f->temp, 0);
	f->temp[0] = '\0';
	if (f->dirfd >= 0) {
		(void)close(f->dirfd);
		f->dirfd = -1;
	}
	f->done = 1;
}

/* the target's directory: for reading (so it can be fsync'ed), else O_PATH (a directory we may
 * write into without reading it) */
static int open_dir(const char *dir, int *can_sync)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*can_sync = fd >= 0;
#if defined(O_PATH)
	if (fd < 0 && errno == EACCES)
		fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
#endif
	return fd;
}

/* Is /proc/self/fd/N the file fd (O_TMPFILE files are linked into place through it)? */
static int proc_link_works(int fd)
{
	char proc[64];
	struct stat a, b;
	if (snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd) >= (int)sizeof proc)
		return 0;
	if (fstat(fd, &a) != 0 || stat(proc, &b) != 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int l_open_output(lua_State *L)
{
	size_t len;
	const char *path = luaL_checklstring(L, 1, &len);
	int named = 0;
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "named");
		named = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (len == 0 || strlen(path) != len)
		return luaL_argerror(L, 1, "not a file name");
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return push_failure(L, "it is a directory", NULL);
	if (strlen(base) > NAME_LEN)
		return push_failure(L, strerror(ENAMETOOLONG), NULL);

	out_file *f = lua_newuserdata(L, sizeof *f);
	f->fd = f->dirfd = -1;
	f->dir_sync = f->unnamed = 0;
	f->done = 1; /* until it is whole, __gc has nothing to do */
	f->used = 0;
	f->temp[0] = '\0';
	memcpy(f->base, base, strlen(base) + 1);
	luaL_setmetatable(L, USAGE_FILE_MT);

	/* the directory: everything below happens relative to it, whatever its path turns into */
	if (slash) {
		size_t dlen = slash == path ? 1 : (size_t)(slash - path);
		lua_pushlstring(L, path, dlen);
		f->dirfd = open_dir(lua_tostring(L, -1), &f->dir_sync);
		lua_pop(L, 1);
	} else {
		f->dirfd = open_dir(".", &f->dir_sync);
	}
	if (f->dirfd < 0) {
		int e = errno;
		discard(f);
		return push_failure(L, e == ENOENT ? "no such directory" : strerror(e), NULL);
	}

	/* the mode: that of the regular file replaced, else 0666 less the umask (applied by open) */
	struct stat st;
	int keep = 0;
	mode_t mode = 0666;
	if (fstatat(f->dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			discard(f);
			return push_failure(L, "it is a directory", NULL);
		}
		if (S_ISREG(st.st_mode)) {
			keep = 1;
			mode = st.st_mode & 0777; /* never setuid, setgid or sticky bits */
		}
	} else if (errno != ENOENT) {
		int e = errno;
		discard(f);
		return push_failure(L, strerror(e), NULL);
	}

	f->fd = -1;
#if defined(O_TMPFILE)
	if (!named) {
		f->fd = openat(f->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
		if (f->fd >= 0 && !proc_link_works(f->fd)) { /* no /proc: it could never get a name */
			(void)close(f->fd); /* nothing written yet */
			f->fd = -1;
		}
		f->unnamed = f->fd >= 0;
	}
#else
	(void)named;
#endif
	for (int tries = 0; f->fd < 0 && tries < TEMP_TRIES; tries++) {
		if (temp_name(base, f->temp) != 0)
			break;
		f->fd = openat(f->dirfd, f->temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
		if (f->fd < 0) {
			f->temp[0] = '\0';
			if (errno != EEXIST)
				break;
		}
	}
	if (f->fd < 0) {
		int e = errno;
		discard(f);
		return push_failure(L, e == EEXIST ? "no free temporary file name" : strerror(e), NULL);
	}
	if (keep) {
		/* the owner and group of the file replaced where allowed (root; a group of ours): EPERM just
		 * leaves ours. Then its exact mode, which the umask may have narrowed at open. */
		if ((st.st_uid != geteuid() || st.st_gid != getegid()) && fchown(f->fd, st.st_uid, st.st_gid) != 0 &&
		    errno != EPERM) {
			int e = errno;
			discard(f);
			return push_failure(L, strerror(e), NULL);
		}
		if (fchmod(f->fd, mode) != 0) {
			int e = errno;
			discard(f);
			return push_failure(L, strerror(e), NULL);
		}
	}
	f->done = 0;
	return 1;
}

static int flush_buffer(out_file *f)
{
	if (f->used == 0)
		return 0;
	if (write_all(f->fd, f->buf, f->used) < 0)
		return -1;
	f->used = 0;
	return 0;
}

/* file:write(...) -> file | nil, message */
static int l_file_write(lua_State *L)
{
	out_file *f = check_file(L);
	int n = lua_gettop(L);
	for (int i = 2; i <= n; i++) {
		size_t len;
		const char *s = luaL_checklstring(L, i, &len);
		if (f->used + len > sizeof f->buf) {
			if (flush_buffer(f) != 0)
				return push_failure(L, strerror(errno), NULL);
		}
		if (len >= sizeof f->buf) {
			if (write_all(f->fd, s, len) < 0)
				return push_failure(L, strerror(errno), NULL);
		} else {
			memcpy(f->buf + f->used, s, len);
			f->used += len;
		}
	}
	lua_settop(L, 1);
	return 1;
}

/* file:flush() -> file | nil, message (the buffer to the kernel) */
static int l_file_flush(lua_State *L)
{
	out_file *f = check_file(L);
	if (flush_buffer(f) != 0)
		return push_failure(L, strerror(errno), NULL);
	lua_settop(L, 1);
	return 1;
}

/* link the O_TMPFILE file at `name` in its directory: 0, or -1 and errno (EEXIST: the name is taken) */
static int link_unnamed(out_file *f, const char *name)
{
	char proc[64];
	if (snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd) >= (int)sizeof proc) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return linkat(AT_FDCWD, proc, f->dirfd, name, AT_SYMLINK_FOLLOW);
}

/* file:commit() -> true | nil, message: the whole file, durably, at its name; or the old file untouched */
static int l_file_commit(lua_State *L)
{
	out_file *f = check_file(L);
	int e = 0;
	if (flush_buffer(f) != 0 || (fsync(f->fd) != 0 && errno != EINVAL)) {
		e = errno;
		discard(f);
		return push_failure(L, strerror(e), NULL);
	}
	if (f->unnamed) {
		/* no file of that name yet: link it there (atomic: EEXIST if one appeared meanwhile). Else a
		 * random name first, then rename over the old file, as for a named temporary file. */
		if (link_unnamed(f, f->base) != 0) {
			if (errno != EEXIST) {
				e = errno;
			} else {
				for (int tries = 0; tries < TEMP_TRIES; tries++) {
					if (temp_name(f->base, f->temp) != 0) {
						e = errno;
						f->temp[0] = '\0';
						break;
					}
					if (link_unnamed(f, f->temp) == 0) {
						e = 0;
						break;
					}
					e = errno;
					f->temp[0] = '\0';
					if (e != EEXIST)
						break;
				}
				if (e == 0 && renameat(f->dirfd, f->temp, f->dirfd, f->base) != 0)
					e = errno;
				if (e == 0)
					f->temp[0] = '\0';
			}
		}
		if (e == 0 && close(f->fd) != 0 && errno != EINTR)
			e = errno; /* (fsync'ed already: unlikely) */
		if (e == 0)
			f->fd = -1;
	} else {
		int fd = f->fd;
		f->fd = -1;
		if (close(fd) != 0 && errno != EINTR)
			e = errno;
		if (e == 0 && renameat(f->dirfd, f->temp, f->dirfd, f->base) != 0)
			e = errno;
		if (e == 0)
			f->temp[0] = '\0';
	}
	if (e != 0) {
		discard(f);
		return push_failure(L, strerror(e), NULL);
	}
	/* the new name durably in the directory; a file system that cannot sync a directory says EINVAL */
	if (f->dir_sync && fsync(f->dirfd) != 0 && errno != EINVAL && errno != EROFS) {
		e = errno;
		discard(f);
		return push_failure(L, strerror(e), NULL);
	}
	discard(f); /* closes the directory; nothing else is left */
	lua_pushboolean(L, 1);
	return 1;
}

static int l_file_abort(lua_State *L)
{
	out_file *f = luaL_checkudata(L, 1, USAGE_FILE_MT);
	discard(f); /* idempotent: whatever is still open (also half-made files) */
	return 0;
}

static int l_file_temp_name(lua_State *L)
{
	out_file *f = luaL_checkudata(L, 1, USAGE_FILE_MT);
	if (f->done || !f->temp[0])
		return 0;
	lua_pushstring(L, f->temp);
	return 1;
}

/* ------------------------------------------------------------------------------------------------
 * core.read_file, core.file_info */

static int l_read_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	lua_Integer max = luaL_checkinteger(L, 2);
	luaL_argcheck(L, max >= 0 && max <= (lua_Integer)1 << 30, 2, "between 0 and 2^30 bytes");
	struct stat st;
	/* the type first: opening a device may have effects of its own */
	if (stat(path, &st) != 0) {
		int e = errno;
		return push_failure(L, strerror(e), reason_of(e));
	}
	if (!S_ISREG(st.st_mode))
		return push_failure(L, type_of(st.st_mode), "not_file");
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return push_failure(L, strerror(e), reason_of(e));
	}
	/* again on what was opened (it may have been replaced since the stat) */
	if (fstat(fd, &st) != 0) {
		int e = errno;
		(void)close(fd); /* read-only: nothing to lose */
		return push_failure(L, strerror(e), "error");
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		return push_failure(L, type_of(st.st_mode), "not_file");
	}
	if (st.st_size > (off_t)max) {
		(void)close(fd);
		return push_failure(L, "too large", "too_large");
	}
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	size_t total = 0;
	for (;;) {
		char *p = luaL_prepbuffer(&b);
		ssize_t n = read(fd, p, LUAL_BUFFERSIZE);
		if (n < 0) {
			int e = errno;
			(void)close(fd);
			return push_failure(L, strerror(e), reason_of(e));
		}
		if (n == 0)
			break;
		luaL_addsize(&b, (size_t)n);
		total += (size_t)n;
		if (total > (size_t)max) { /* a file that grows as it is read, or lies about its size */
			(void)close(fd);
			return push_failure(L, "too large", "too_large");
		}
	}
	if (close(fd) != 0 && errno != EINTR) {
		int e = errno;
		return push_failure(L, strerror(e), "error");
	}
	luaL_pushresult(&b);
	push_info(L, &st);
	return 2;
}

static int l_file_info(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int follow = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
	struct stat st;
	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
		int e = errno;
		return push_failure(L, strerror(e), reason_of(e));
	}
	push_info(L, &st);
	return 1;
}

const luaL_Reg usage_file_functions[] = {
	{"open_output", l_open_output},
	{"read_file", l_read_file},
	{"file_info", l_file_info},
	{NULL, NULL},
};

void usage_file_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"write", l_file_write},
		{"flush", l_file_flush},
		{"commit", l_file_commit},
		{"abort", l_file_abort},
		{"temp_name", l_file_temp_name},
		{"__gc", l_file_abort},
		{"__close", l_file_abort},
		{NULL, NULL},
	};
	usage_newclass(L, USAGE_FILE_MT, methods);
}
