// libtorch's random generator and thread settings are process-wide: tests that seed it must not
// interleave, or "same seed, same run" stops being true inside this test process.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
