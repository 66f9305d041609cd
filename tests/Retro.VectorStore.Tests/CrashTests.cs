using System.Diagnostics;
using Retro.Core;
using Retro.VectorStore.CrashChild;
using Retro.VectorStore.Hnsw;

namespace Retro.VectorStore.Tests;

/// <summary>
/// kill -9 at random moments: a child process upserts batches and prints each acknowledged batch; the parent kills
/// it, reopens the store and checks that every acknowledged point is present and found at rank 1 by its own vector,
/// that batches are atomic, and that no id has two live nodes.
/// </summary>
public sealed class CrashTests : IDisposable
{
    /// <summary>Kill trials (the brief asks for at least 20).</summary>
    private const int Trials = 20;

    private const int Seed = 20261122;

    /// <summary>Beam for the second look at a point the default beam missed (larger than any collection here).</summary>
    private const int WideEf = 4096;

    /// <summary>Longest wait after the child is ready (or acknowledged its first batch) before killing it (ms).</summary>
    private const int MaxKillDelayMs = 300;

    private readonly string _directory = Directory.CreateTempSubdirectory("retro-crash-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task KillNine_AtRandomMoments_LosesNoAcknowledgedPointAndDuplicatesNone()
    {
        var random = new Random(Seed);
        int lastAcked = -1;
        int killedWhileWriting = 0;
        for (int trial = 0; trial < Trials; trial++)
        {
            int first = lastAcked + 1; // the batch that was in flight is replayed: it must be idempotent
            // Every fourth kill lands while the child opens (and repairs) the store; the others while it writes.
            bool afterFirstAck = trial % 4 != 0;
            int acked = await RunChildAndKillAsync(first, random.Next(0, MaxKillDelayMs), afterFirstAck);
            if (acked >= first) killedWhileWriting++;
            lastAcked = Math.Max(lastAcked, acked);
            await VerifyAsync(lastAcked, trial);
        }
        lastAcked.ShouldBeGreaterThan(Trials, "the children should have acknowledged batches");
        killedWhileWriting.ShouldBeGreaterThanOrEqualTo(Trials * 3 / 4, "kills should land while batches are being written");
    }

    private async Task<int> RunChildAndKillAsync(int firstBatch, int delayMs, bool afterFirstAck)
    {
        string child = Path.Combine(AppContext.BaseDirectory, "Retro.VectorStore.CrashChild.dll");
        File.Exists(child).ShouldBeTrue($"{child} missing: the test project references the child project");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(child);
        psi.ArgumentList.Add(_directory);
        psi.ArgumentList.Add(firstBatch.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var process = Process.Start(psi)!;
        var ready = new TaskCompletionSource();
        int acked = firstBatch - 1;
        var stdout = Task.Run(async () =>
        {
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync()) is not null)
            {
                if (line == "READY" && !afterFirstAck) ready.TrySetResult();
                else if (line.StartsWith("ACK ", StringComparison.Ordinal))
                {
                    Volatile.Write(ref acked, int.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture));
                    ready.TrySetResult();
                }
            }
        });
        var stderr = process.StandardError.ReadToEndAsync();
        var started = await Task.WhenAny(ready.Task, Task.Delay(TimeSpan.FromSeconds(60)));
        if (started != ready.Task || process.HasExited)
        {
            if (!process.HasExited) process.Kill();
            throw new Xunit.Sdk.XunitException("crash child did not start: " + await stderr);
        }
        await Task.Delay(delayMs);
        process.Kill(); // SIGKILL on Unix
        await process.WaitForExitAsync();
        await stdout; // every ACK printed before the kill
        return Volatile.Read(ref acked);
    }

    private async Task VerifyAsync(int lastAcked, int trial)
    {
        // What must be there: every acknowledged batch, with the latest acknowledged version of replaced points.
        var expected = new Dictionary<ChunkId, VectorPoint>();
        for (int b = 0; b <= lastAcked; b++)
        {
            foreach (var p in CrashWorkload.Batch(b)) expected[p.Id] = p;
        }
        // The batch in flight at the kill may or may not have been committed: all or nothing.
        int inFlight = lastAcked + 1;
        var maybe = CrashWorkload.Batch(inFlight);
        var maybeById = maybe.ToDictionary(p => p.Id);

        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, CrashWorkload.Spec, CrashWorkload.Options);
        long count = await store.CountAsync();
        int newInFlight = maybe.Count(p => !expected.ContainsKey(p.Id));
        count.ShouldBeOneOf([expected.Count, (long)expected.Count + newInFlight], $"trial {trial}: batches must be atomic (acked through {lastAcked})");

        // No id has two live nodes: live graph nodes = live points.
        var graph = store.Index.Graph;
        var arrays = graph.Arrays;
        int liveNodes = 0;
        for (uint node = 0; node < graph.Count; node++) if (!HnswGraph.IsDeleted(arrays, node)) liveNodes++;
        liveNodes.ShouldBe((int)count, $"trial {trial}: one live graph node per point");

        var chunks = await store.GetChunksAsync([.. expected.Keys]);
        chunks.ShouldAllBe(c => c != null, $"trial {trial}: an acknowledged point's payload is missing");

        var hits = new SearchHit[10];
        foreach (var (id, point) in expected)
        {
            int n = await store.SearchAsync(point.Vector, new SearchOptions { Limit = 10, Ef = 64 }, hits);
            hits.AsSpan(0, n).ToArray().Select(h => h.Id).Distinct().Count().ShouldBe(n, $"trial {trial}: duplicate ids in results");
            if (n > 0 && hits[0].Id == id) continue;
            // HNSW is approximate: before calling the point lost, search again with a beam that covers the graph.
            n = await store.SearchAsync(point.Vector, new SearchOptions { Limit = 1, Ef = WideEf }, hits);
            if (n > 0 && hits[0].Id == id) continue;
            // A point the in-flight batch replaced may carry the new vector.
            maybeById.TryGetValue(id, out var replaced).ShouldBeTrue($"trial {trial}: acknowledged point {id} not found at rank 1 by its own vector");
            n = await store.SearchAsync(replaced!.Vector, new SearchOptions { Limit = 1, Ef = 64 }, hits);
            hits[0].Id.ShouldBe(id, $"trial {trial}: replaced point {id} not found by either version");
        }
    }
}
