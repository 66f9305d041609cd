using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Retro.Core;
using Retro.Core.Options;
using Retro.VectorStore.Hnsw;
using Retro.VectorStore.Metrics;
using Retro.VectorStore.Vectors;

namespace Retro.Benchmarks.VectorStore;

/// <summary>
/// <c>hnsw</c>: our HNSW against hnswlib (Debian's python3-hnswlib, child process) on the same seeded, clustered,
/// normalised vectors with the same M / efConstruction, ef swept; recall@10 against brute force, build time,
/// QPS with 1 and 2 threads, memory per vector. Ends with <c>hnsw: ours=QPS@0.95 peer=QPS@0.95 ratio=…</c> (2 threads).
/// </summary>
public sealed class HnswSuite : ISuite
{
    private const int K = 10;

    public string Name => "hnsw";

    public string Description => "HNSW build time and QPS at recall@10 0.95/0.99 vs hnswlib (--n 200000 --queries 1000 --dim 384 --reps 7 --no-peer --quantize|--float --keep-pruned)";

    public int Run(string[] args)
    {
        int n = IntOption(args, "--n", 200_000);
        int nq = IntOption(args, "--queries", 1_000);
        int dim = IntOption(args, "--dim", 384);
        int m = IntOption(args, "--m", 16);
        int efc = IntOption(args, "--efc", 200);
        int threads = IntOption(args, "--threads", 2);
        int reps = IntOption(args, "--reps", 7);
        int clusters = IntOption(args, "--clusters", Math.Max(1, n / 200));
        // The product's default search path (Retro:VectorStore:Quantization) is measured against hnswlib, point by
        // point; the other path is swept over the same graph afterwards. --quantize / --float force the measured one.
        bool quantize = args.Contains("--quantize") || (!args.Contains("--float") && new VectorStoreOptions().Quantization == QuantizationKind.Int8);
        bool keepPruned = args.Contains("--keep-pruned");
        bool peer = !args.Contains("--no-peer");
        int[] efs = [12, 16, 20, 24, 28, 32, 40, 48, 64, 96, 128, 192, 256];

        Console.WriteLine($"hnsw: n={n} queries={nq} dim={dim} clusters={clusters} M={m} efConstruction={efc} build threads={threads} quantize={quantize} keepPruned={keepPruned}");
        var sw = Stopwatch.StartNew();
        float[] data = ClusteredData.Generate(n + nq, dim, clusters, seed: 42);
        var base_ = data.AsMemory(0, n * dim);
        var queries = data.AsMemory(n * dim, nq * dim);
        int[] truth = ClusteredData.ExactNeighbours(base_.Span, queries.Span, dim, K);
        Console.WriteLine($"data + exact neighbours: {sw.Elapsed.TotalSeconds:F1} s");

        string dir = Directory.CreateTempSubdirectory("retro-hnsw-").FullName;
        try
        {
            // Both indexes are built first (one after the other), then every (ef, threads) point is measured for ours
            // and for hnswlib back to back, so that a host whose speed drifts over the minutes of a run (a shared
            // machine) affects both sides of each ratio alike.
            using var peerProcess = peer ? PeerProcess.Start(dir, base_, queries, truth, n, nq, dim, m, efc, threads) : null;
            var ours = RunOurs(base_, queries, truth, n, nq, dim, m, efc, threads, reps, quantize, keepPruned, efs, dir, peerProcess, out var theirs);
            Report(ours, theirs, quantize ? "ours (int8 + float rescoring)" : "ours (float32)");
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed record Point(int Ef, int Threads, double Qps, double Recall);

    private sealed record Result(double BuildSeconds, double BytesPerVector, List<Point> Points)
    {
        /// <summary>Best QPS among the ef values reaching <paramref name="recall"/> (0 when none does).</summary>
        public double QpsAt(double recall, int threads) => Points.Where(p => p.Threads == threads && p.Recall >= recall).Select(p => p.Qps).DefaultIfEmpty(0).Max();
    }

    private static unsafe Result RunOurs(ReadOnlyMemory<float> base_, ReadOnlyMemory<float> queries, int[] truth, int n, int nq, int dim, int m, int efc,
        int threads, int reps, bool quantize, bool keepPruned, int[] efs, string dir, PeerProcess? peer, out Result? theirs)
    {
        theirs = null;
        using var vectors = VectorStorage.OpenFile(Path.Combine(dir, "vectors.bin"), dim, out _);
        vectors.EnsureCapacity(n);
        for (int i = 0; i < n; i++) vectors.Write((uint)i, base_.Span.Slice(i * dim, dim));
        var graph = new HnswGraph(m, efc, keepPrunedConnections: keepPruned);
        var index = new HnswIndex(vectors, graph, DistanceMetric.Cosine, quantize);
        var sw = Stopwatch.StartNew();
        index.Add(0, (uint)n, threads);
        double build = sw.Elapsed.TotalSeconds;
        var g = graph.Arrays;
        long upper = 0;
        for (int i = 0; i < n; i++) upper += (g.Upper[i]?.Length ?? 0) * 4L + 8;
        double bytes = vectors.Stride + (2 * m + 1) * 4 + 4 + 1 + 1 + upper / (double)n + (quantize ? dim + 4 : 0);
        Console.WriteLine($"ours: build {build:F1} s, {bytes:F0} bytes/vector");
        peer?.Build();

        var points = Sweep(quantize ? "ours-int8" : "ours", index, queries, truth, nq, dim, reps, efs, peer);
        if (peer is not null) theirs = new Result(peer.BuildSeconds, peer.BytesPerVector, peer.Points);
        // The same graph searched through the other path (int8 codes are derived state, built or ignored here).
        var other = new HnswIndex(vectors, graph, DistanceMetric.Cosine, quantize: !quantize);
        other.Add((uint)n, (uint)n, threads);
        string otherName = quantize ? "ours-float" : "ours-int8";
        var o = Sweep(otherName, other, queries, truth, nq, dim, reps, efs, null);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{otherName}: QPS@0.95 1T={Best(o, 0.95, 1):F0} 2T={Best(o, 0.95, 2):F0}; QPS@0.99 1T={Best(o, 0.99, 1):F0} 2T={Best(o, 0.99, 2):F0} ({(quantize ? $"-{dim + 4}" : $"+{dim + 4}")} bytes/vector)"));
        return new Result(build, bytes, points);
    }

    private static double Best(List<Point> points, double recall, int threads)
        => points.Where(p => p.Threads == threads && p.Recall >= recall).Select(p => p.Qps).DefaultIfEmpty(0).Max();

    private static List<Point> Sweep(string name, HnswIndex index, ReadOnlyMemory<float> queries, int[] truth, int nq, int dim, int reps, int[] efs, PeerProcess? peer)
    {
        WarmUp(index, queries, nq, dim);
        var points = new List<Point>();
        foreach (int ef in efs)
        {
            foreach (int t in new[] { 1, 2 })
            {
                // One repetition of ours, then one of hnswlib's, and so on: a host whose speed changes within a
                // point (a shared machine) slows both sides alike. Each side reports the median of its repetitions.
                var labels = new int[nq * K];
                var times = new List<double>();
                var peerQps = new List<double>();
                double peerRecall = 0;
                for (int r = 0; r < reps; r++)
                {
                    var w = Stopwatch.StartNew();
                    SearchAll(index, queries, labels, nq, dim, ef, t);
                    times.Add(w.Elapsed.TotalSeconds);
                    if (peer is not null)
                    {
                        var one = peer.Measure(ef, t, 1);
                        peerQps.Add(one.Qps);
                        peerRecall = one.Recall;
                    }
                }
                times.Sort();
                var p = new Point(ef, t, nq / times[times.Count / 2], Recall(labels, truth, nq));
                points.Add(p);
                Console.WriteLine($"{name}:  ef={ef,4} threads={t} recall={p.Recall:F4} qps={p.Qps,8:F0}");
                if (peer is not null)
                {
                    peerQps.Sort();
                    var q = new Point(ef, t, peerQps[peerQps.Count / 2], peerRecall);
                    peer.Points.Add(q);
                    Console.WriteLine($"peer:  ef={q.Ef,4} threads={q.Threads} recall={q.Recall:F4} qps={q.Qps,8:F0}");
                }
            }
        }
        return points;
    }

    /// <summary>
    /// Searches for a second before anything is timed, so that the measured points run the JIT's final (tier-1) code
    /// of the search loop: without it the first points of a sweep ran on-stack-replacement and instrumented code.
    /// </summary>
    private static void WarmUp(HnswIndex index, ReadOnlyMemory<float> queries, int nq, int dim)
    {
        var labels = new int[nq * K];
        var w = Stopwatch.StartNew();
        while (w.ElapsedMilliseconds < 1500)
            foreach (int t in new[] { 1, 2 }) SearchAll(index, queries, labels, Math.Min(nq, 50), dim, 32, t);
    }

    private static void SearchAll(HnswIndex index, ReadOnlyMemory<float> queries, int[] labels, int nq, int dim, int ef, int threads)
    {
        int next = -1;
        void Work()
        {
            var hits = new Candidate[K];
            int q;
            while ((q = Interlocked.Increment(ref next)) < nq)
            {
                int found = index.Search(queries.Span.Slice(q * dim, dim), K, ef, null, hits);
                for (int i = 0; i < K; i++) labels[q * K + i] = i < found ? (int)hits[i].Node : -1;
            }
        }
        if (threads == 1) { Work(); return; }
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++) { workers[t] = new Thread(Work); workers[t].Start(); }
        foreach (var w in workers) w.Join();
    }

    private static double Recall(int[] labels, int[] truth, int nq)
    {
        long hits = 0;
        for (int q = 0; q < nq; q++)
        {
            var expected = new HashSet<int>(truth.AsSpan(q * K, K).ToArray());
            for (int i = 0; i < K; i++) if (expected.Contains(labels[q * K + i])) hits++;
        }
        return hits / (double)(nq * K);
    }

    /// <summary>
    /// hnswlib in a child process (peers/hnsw_peer.py, interactive): given the same files, it builds when told,
    /// then measures one (ef, threads) point per request, so that points alternate with ours.
    /// </summary>
    private sealed class PeerProcess : IDisposable
    {
        private readonly Process _process;

        private PeerProcess(Process process) => _process = process;

        public double BuildSeconds { get; private set; }
        public double BytesPerVector { get; private set; }
        public List<Point> Points { get; } = [];

        public static PeerProcess Start(string dir, ReadOnlyMemory<float> base_, ReadOnlyMemory<float> queries, int[] truth, int n, int nq, int dim,
            int m, int efc, int threads)
        {
            RequireHnswlib();
            WriteMatrix(Path.Combine(dir, "base.bin"), base_.Span, n, dim);
            WriteMatrix(Path.Combine(dir, "queries.bin"), queries.Span, nq, dim);
            WriteMatrix(Path.Combine(dir, "truth.bin"), truth.AsSpan(), nq, K);
            return new PeerProcess(Launch(dir, m, efc, threads));
        }

        /// <summary>Fails before any work when Debian's python3-hnswlib is missing (test.sh installs it).</summary>
        private static void RequireHnswlib()
        {
            var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import hnswlib");
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException("the peer needs hnswlib for /usr/bin/python3: `apt-get install python3-hnswlib` (./test.sh installs it), or run with --no-peer");
        }

        private static Process Launch(string dir, int m, int efc, int threads)
        {
            var psi = new ProcessStartInfo("/usr/bin/python3")
            {
                RedirectStandardOutput = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (string a in new[] { FindPeer(), Path.Combine(dir, "base.bin"), Path.Combine(dir, "queries.bin"), Path.Combine(dir, "truth.bin"),
                         m.ToString(CultureInfo.InvariantCulture), efc.ToString(CultureInfo.InvariantCulture), threads.ToString(CultureInfo.InvariantCulture),
                         "-", "1" })
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment.Remove("OPENBLAS_CORETYPE");
            psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
            return Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        }

        /// <summary>Has the peer build its index (after ours is built: the two builds must not share the cores).</summary>
        public void Build()
        {
            _process.StandardInput.WriteLine("build");
            _process.StandardInput.Flush();
            using var doc = JsonDocument.Parse(ReadLine());
            BuildSeconds = doc.RootElement.GetProperty("build_s").GetDouble();
            BytesPerVector = doc.RootElement.GetProperty("bytes_per_vector").GetDouble();
            Console.WriteLine($"peer: build {BuildSeconds:F1} s, {BytesPerVector:F0} bytes/vector (RSS growth)");
        }

        /// <summary>Measures one (ef, threads) point of hnswlib's over <paramref name="reps"/> repetitions (median QPS).</summary>
        public Point Measure(int ef, int threads, int reps)
        {
            _process.StandardInput.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ef} {threads} {reps}"));
            _process.StandardInput.Flush();
            using var doc = JsonDocument.Parse(ReadLine());
            var root = doc.RootElement;
            return new Point(root.GetProperty("ef").GetInt32(), root.GetProperty("threads").GetInt32(), root.GetProperty("qps").GetDouble(), root.GetProperty("recall").GetDouble());
        }

        private string ReadLine() => _process.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException($"hnsw_peer.py ended early{(_process.WaitForExit(5000) ? $" with exit code {_process.ExitCode}" : "")}");

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.StandardInput.WriteLine("quit");
                    _process.StandardInput.Flush();
                    if (!_process.WaitForExit(30_000)) _process.Kill();
                }
            }
            finally
            {
                _process.Dispose();
            }
        }
    }

    private static void Report(Result ours, Result? peer, string label)
    {
        Console.WriteLine();
        Console.WriteLine("| | build s | bytes/vector | QPS@0.95 1T | QPS@0.95 2T | QPS@0.99 1T | QPS@0.99 2T |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Row(label, ours);
        if (peer is not null) Row("hnswlib", peer);
        double o = ours.QpsAt(0.95, 2), p = peer?.QpsAt(0.95, 2) ?? double.NaN;
        if (peer is not null)
        {
            Console.WriteLine($"build ratio ours/peer = {ours.BuildSeconds / peer.BuildSeconds:F2}; QPS ratio at 0.99 (2T) = {ours.QpsAt(0.99, 2) / peer.QpsAt(0.99, 2):F2}");
        }
        if (peer is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"QPS ratios at equal recall: 0.95 1T {ours.QpsAt(0.95, 1) / peer.QpsAt(0.95, 1):F2}, 2T {o / p:F2}; 0.99 1T {ours.QpsAt(0.99, 1) / peer.QpsAt(0.99, 1):F2}, 2T {ours.QpsAt(0.99, 2) / peer.QpsAt(0.99, 2):F2}"));
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"hnsw: ours={o:F0} peer={p:F0} ratio={o / p:F2}"));

        static void Row(string name, Result r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {r.BuildSeconds:F1} | {r.BytesPerVector:F0} | {r.QpsAt(0.95, 1):F0} | {r.QpsAt(0.95, 2):F0} | {r.QpsAt(0.99, 1):F0} | {r.QpsAt(0.99, 2):F0} |"));
    }

    private static void WriteMatrix<T>(string path, ReadOnlySpan<T> values, int rows, int cols) where T : unmanaged
    {
        using var f = File.Create(path);
        Span<int> header = [rows, cols];
        f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(header));
        f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }

    private static string FindPeer()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "peers", "hnsw_peer.py");
            if (File.Exists(candidate)) return candidate;
            candidate = Path.Combine(d.FullName, "tests", "Retro.Benchmarks", "peers", "hnsw_peer.py");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("tests/Retro.Benchmarks/peers/hnsw_peer.py not found above " + AppContext.BaseDirectory);
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
