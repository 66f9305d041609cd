using Retro.VectorStore;
using Retro.VectorStore.CrashChild;

// usage: Retro.VectorStore.CrashChild <directory> <first batch>
// Prints "READY" once the store is open, then "ACK <batch>" after each acknowledged upsert, until killed.
if (args.Length != 2) { Console.Error.WriteLine("usage: Retro.VectorStore.CrashChild <directory> <first batch>"); return 2; }
int batch = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var store = await EmbeddedVectorStore.OpenAsync(args[0], CrashWorkload.Spec, CrashWorkload.Options);
Console.Out.WriteLine("READY");
Console.Out.Flush();
for (; batch < 1_000_000; batch++)
{
    await store.UpsertAsync(CrashWorkload.Batch(batch));
    Console.Out.WriteLine($"ACK {batch}");
    Console.Out.Flush();
}
return 0;
