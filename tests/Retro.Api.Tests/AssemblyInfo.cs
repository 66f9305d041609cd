// WebApplicationFactory<Program> intercepts the entry point's host through a process-wide diagnostic listener, and the
// Playwright test starts Kestrel: hosts are built one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
