// Test classes here start in-process servers. Every server's OpenTelemetry pipeline subscribes to every
// meter named "GanInference" in the process, so two servers running at once see each other's
// instruments and the bench test's /metrics diff can miss its own model's series. Run classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
