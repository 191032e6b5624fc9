# env.sh — sanitizer runtime settings for the ASan/UBSan stage (scripts/test-sanitize).
# Source it to reproduce a failure by hand:
#   DZ_SAN_BUILD=$PWD/build-asan . tests/sanitize/env.sh; cd build-asan && ctest -R ranks
# Needs DZ_SAN_BUILD (absolute path of the sanitizer build folder; the LD_PRELOAD shim
# libdz_nodlclose.so is built there by scripts/test-sanitize).  ASan and LSan reports go to
# $DZ_SAN_BUILD/sanitizer-logs/asan.<pid> (and end the process with an error), so a report
# cannot be lost in a test that only looks at stderr's tail or accepts a failing exit code.
# Exported variables reach every MPI rank: Open MPI starts local ranks with mpirun's
# environment (only OMP_NUM_THREADS is passed with -x in tests/dztest.py, which is not needed
# for these).
: "${DZ_SAN_BUILD:?set DZ_SAN_BUILD to the sanitizer build folder}"
_dz_san_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DZ_SAN_LOGS="$DZ_SAN_BUILD/sanitizer-logs"
# The release stage already ran the full N x T grids; here the same code paths once each.
export DZ_TEST_SMALL=1
mkdir -p "$DZ_SAN_LOGS"

# See nodlclose.c: keep Open MPI's plugins mapped so leak stacks can be named and matched.
export LD_PRELOAD="$DZ_SAN_BUILD/libdz_nodlclose.so${LD_PRELOAD:+:$LD_PRELOAD}"

_asan=(
  # Stop at the first error (the default; explicit because the stage relies on it).
  halt_on_error=1
  detect_leaks=1
  # GCC 12's sanitizer runtime misreads glibc >= 2.25 dynamic-TLS blocks in its
  # __tls_get_addr interceptor; LeakSanitizer's tracer then dies with "Tracer caught signal
  # 11" at exit of every process that loads Open MPI (google/sanitizers#1322).
  # Static TLS and all threads' stacks are still scanned.
  intercept_tls_get_addr=0
  # Open MPI, HDF5, libgomp, hwloc are built without frame pointers: the fast unwinder stops
  # at their first frame, so a leak inside MPI_Init would show one anonymous frame.  The slow
  # (DWARF) unwinder gives the whole stack, which the function-level suppressions in
  # lsan.supp need.  64 frames reach main() from Open MPI's deepest init paths.
  fast_unwind_on_malloc=0
  malloc_context_size=64
  # LD_PRELOAD puts the shim before libasan in the library list, which ASan refuses by
  # default.  The shim defines only dlclose, which ASan does not intercept.
  verify_asan_link_order=0
  # The bad-input tests ask for data sets larger than memory on purpose (badinput
  # h5_larger_than_memory: ranks try posix_memalign of ~2.6 TB, their share).  glibc returns
  # NULL/ENOMEM, which src/ handles; ASan would instead abort with allocation-size-too-big.
  # Behave like glibc so the out-of-memory paths are tested as they run in production.
  allocator_may_return_null=1
  log_path="$DZ_SAN_LOGS/asan"
)
_lsan=(
  suppressions="$_dz_san_dir/lsan.supp"
  # Print nothing when every leak is a suppressed third-party one (the log file is only
  # created when there is something to report).
  print_suppressions=0
)
# UBSan: our code is built with -fno-sanitize-recover=undefined, so the first report ends
# the rank (exit 1) and fails its test.  Its report goes to stderr, not to log_path (the
# GCC 12 runtime ignores log_path for UBSan reports when combined with ASan): look in the
# failing test's output.
_ubsan=(
  halt_on_error=1
  print_stacktrace=1
)
ASAN_OPTIONS="$(IFS=:; echo "${_asan[*]}")"
LSAN_OPTIONS="$(IFS=:; echo "${_lsan[*]}")"
UBSAN_OPTIONS="$(IFS=:; echo "${_ubsan[*]}")"
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
unset _asan _lsan _ubsan _dz_san_dir
