// skiptune/core/atomic_file.hpp — replace a file atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory), so an interrupted run never leaves a
// half-written log, vocabulary or results file. POSIX. (safetensors checkpoints stream large
// buffers through io/safetensors.hpp's own writer, which follows the same protocol.)
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "skiptune/core/errors.hpp"

namespace skiptune {

/// Distinguishes temporary files of several writers in one process (with the pid: across processes).
namespace detail {
inline std::atomic<unsigned long> atomic_write_counter{0};
}  // namespace detail

/// Replaces the file at `path` with `content` so that a reader (or a crash) sees either the old
/// file or the new one, never a mix: write a temporary file in the same directory (rename is
/// only atomic within one file system), fsync it, rename it over `path`, then fsync the
/// directory so the rename itself survives a power cut. On any error the temporary file is
/// removed and IoError names `path` ("cannot write <what_file> <path>: ...").
inline void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                  std::string_view what_file = "file") {
  const std::string target = path.string();
  const auto fail = [&](std::string_view what, int error) {
    throw IoError(skiptune::detail::message("cannot write ", what_file, " '", target, "': ", what, ": ",
                                            std::system_category().message(error)));
  };
  const std::string file_name = path.filename().string();
  if (file_name.empty() || file_name == "." || file_name == "..")
    throw IoError(
        skiptune::detail::message("cannot write ", what_file, " '", target, "': the path names a directory"));
  const std::filesystem::path directory = path.parent_path();

  // Hidden (leading dot) so directory listings and globs like *.csv do not pick it up.
  const std::filesystem::path temporary =
      directory / skiptune::detail::message(".", file_name, ".tmp.", ::getpid(), ".", detail::atomic_write_counter++);
  const std::string temporary_name = temporary.string();

  // 0666 and the process umask: the file gets the same permissions as any other new file.
  int fd = ::open(temporary_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) fail(skiptune::detail::message("cannot create temporary file '", temporary_name, "'"), errno);

  // From here on, every failure must remove the temporary file.
  const auto fail_and_clean = [&](std::string_view what) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(temporary_name.c_str());
    fail(what, error);
  };
  std::size_t written = 0;
  while (written < content.size()) {
    const ::ssize_t result = ::write(fd, content.data() + written, content.size() - written);
    if (result < 0) {
      if (errno == EINTR) continue;
      fail_and_clean(skiptune::detail::message("cannot write temporary file '", temporary_name, "'"));
    }
    written += static_cast<std::size_t>(result);
  }
  if (::fsync(fd) != 0)
    fail_and_clean(skiptune::detail::message("cannot fsync temporary file '", temporary_name, "'"));
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0)
    fail_and_clean(skiptune::detail::message("cannot close temporary file '", temporary_name, "'"));
  if (::rename(temporary_name.c_str(), target.c_str()) != 0)
    fail_and_clean(skiptune::detail::message("cannot rename temporary file '", temporary_name, "' over it"));

  // Best effort: the new file is complete and in place; some file systems refuse to fsync a
  // directory, and that must not turn a successful write into an error.
  const std::string directory_name = directory.empty() ? std::string(".") : directory.string();
  const int directory_fd = ::open(directory_name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd >= 0) {
    (void)::fsync(directory_fd);
    ::close(directory_fd);
  }
}

}  // namespace skiptune
