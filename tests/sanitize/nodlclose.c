/* nodlclose.c — LD_PRELOAD shim for the sanitizer and valgrind stages only (never shipped).
 *
 * Open MPI 4.1 dlopen()s its MCA components (mca_fcoll_vulcan.so, mca_btl_vader.so, ...) and
 * dlclose()s them in MPI_Finalize, before LeakSanitizer/valgrind look at the heap.  Stack
 * frames in an unloaded library can then no longer be named ("<unknown module>", "???"), so
 * a suppression cannot match them, and LeakSanitizer re-reads /proc/self/maps for every such
 * frame (an 8-rank run took 11 s instead of 2 s).  Open MPI 5 has the MCA parameter
 * mca_base_component_disable_dlclose for this; 4.1 does not, so we make dlclose() a no-op:
 * the process is about to exit anyway.
 */
int dlclose(void *handle);

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
