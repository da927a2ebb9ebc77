// The classes share two cores with the rest of the suite: one server and one browser at a time is enough.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
