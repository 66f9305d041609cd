using Retro.Indexer;
using Retro.Indexer.Cli;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
using var components = new RetroComponents();
return await new IndexerCli(components).RunAsync(args, cancel.Token);
