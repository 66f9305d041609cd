using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text.Json;
using Retro.Engine;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu;
using Retro.Engine.Retro;

namespace Retro.Benchmarks.Engine;

/// <summary>
/// RETRO decoding, one token per step with the KV cache, ours (F32 and BF16 weights) against PyTorch running
/// src/training/model.py's <c>Retro.step</c> on the same F32 weights in the same run: 8 layers, d 512, 8 heads,
/// FFN 2048, CCA at 2 layers, V 16384, batch 1, a 512-token context, k = 2 neighbours of 128 tokens given every 64
/// tokens. Reports tokens/s (median of repeats, spread), weight bytes per token against measured DRAM bandwidth,
/// and checks that ours and PyTorch's logits agree.
/// </summary>
public sealed class DecodeSuite : ISuite
{
    private const double Fp32Tolerance = 1e-3;  // fp32 vs fp32: summation order only, through 8 layers at d 512
    private const double Bf16Tolerance = 3e-2;  // bf16 weights vs the fp32 reference (the fixtures see ~5e-3 at d 64)
    // usage: decode [--tokens 512] [--repeats 3] [--threads 2] [--batch B] [--no-peer] [--no-ort] [--keep] [--model DIR]

    /// <inheritdoc />
    public string Name => "decode";

    /// <inheritdoc />
    public string Description => "RETRO decoder tokens/s (KV cache, CCA, neighbours every 64 tokens) vs PyTorch model.py and ONNX Runtime";

    /// <inheritdoc />
    public int Run(string[] args)
    {
        int tokens = IntArg(args, "--tokens", 512), repeats = IntArg(args, "--repeats", 3), threads = IntArg(args, "--threads", 2);
        int batchSize = IntArg(args, "--batch", 0);
        bool peer = !args.Contains("--no-peer"), keep = args.Contains("--keep");
        int libAt = Array.IndexOf(args, "--peer-lib");
        string? peerLib = libAt >= 0 && libAt + 1 < args.Length ? args[libAt + 1] : null; // OpenBLAS for the peer (see embed)
        var config = new RetroConfig
        {
            VocabSize = 16384, DModel = 512, NLayers = 8, NHeads = 8, DFf = 2048, MaxSeqLen = tokens,
            ChunkSize = 64, NeighbourLen = 128, NumNeighbours = 2, CcaLayers = [5, 7],
            EncoderLayers = 2, EncoderNHeads = 8, EncoderDFf = 2048, BosTokenId = 0, EosTokenId = 0, PadTokenId = 0,
        }.Validate();

        int modelAt = Array.IndexOf(args, "--model");
        if (modelAt >= 0 && modelAt + 1 < args.Length) return RunModel(args[modelAt + 1], tokens, repeats, threads, batchSize);

        string root = Path.Combine(Path.GetTempPath(), $"retro-decode-bench-{Environment.ProcessId}");
        try
        {
            Console.WriteLine($"decode: {config.NLayers} layers, d {config.DModel}, {config.NHeads} heads, FFN {config.DFf}, CCA at [{string.Join(", ", config.CcaLayers)}], " +
                              $"V {config.VocabSize}, {tokens} tokens, k {config.NumNeighbours} × r {config.NeighbourLen} every {config.ChunkSize}; {threads} threads, {repeats} repeats");
            var sw = Stopwatch.StartNew();
            var weights = DecodeModelWriter.RandomWeights(config, seed: 1234);
            DecodeModelWriter.WriteFolder(Path.Combine(root, "f32"), config, weights, "F32");
            DecodeModelWriter.WriteFolder(Path.Combine(root, "bf16"), config, weights, "BF16");
            weights.Clear();
            var (ids, neighbours, checks) = Inputs(config, tokens, seed: 99);
            string inputs = Path.Combine(root, "inputs.safetensors");
            DecodeModelWriter.WriteSafetensors(inputs,
            [
                ("tokens", "I32", [tokens], ids),
                ("neighbours", "I32", [neighbours.Length / (config.NumNeighbours * config.NeighbourLen), config.NumNeighbours, config.NeighbourLen], neighbours),
                ("checks", "I32", [checks.Length], checks),
            ]);
            Console.WriteLine($"  wrote random weights (F32, BF16) and inputs to {root} in {sw.Elapsed.TotalSeconds:F1} s");

            double gbs = MeasureBandwidth(threads);
            Console.WriteLine($"  DRAM read bandwidth (measured, {threads} threads): {gbs:F1} GB/s");

            using var backend = new CpuBackend(threads);
            var f32 = RunOurs(backend, Path.Combine(root, "f32"), ids, neighbours, checks, repeats, gbs, "F32");
            var bf16 = RunOurs(backend, Path.Combine(root, "bf16"), ids, neighbours, checks, repeats, gbs, "BF16");
            double agreeBf16 = ParityAgainst(f32.Logits, bf16.Logits);
            Console.WriteLine($"  ours BF16 vs ours F32 logits: relative error {agreeBf16:E2}");
            if (batchSize > 1) RunBatch(backend, Path.Combine(root, "bf16"), ids, neighbours, batchSize, repeats, bf16, "BF16");
            if (!args.Contains("--no-ort"))
            {
                OnnxPeer.Export(Path.Combine(root, "f32"));
                var ort = RunOrt(Path.Combine(root, "f32"), ids, neighbours, checks, repeats, threads);
                Console.WriteLine($"  ONNX Runtime vs ours F32 logits: relative error {ParityAgainst(f32.Logits, ort.Logits):E2}");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"decode-ort: ours={f32.Rate:F1} ort={ort.Rate:F1} ratio={f32.Rate / ort.Rate:F2} (both F32 weights; ours BF16 {bf16.Rate:F1}, ratio {bf16.Rate / ort.Rate:F2})"));
            }

            double peerRate = double.NaN;
            if (peer)
            {
                var (rate, spread, peerLogits) = RunPeer(root, inputs, repeats, threads, peerLib);
                peerRate = rate;
                Console.WriteLine($"  peer PyTorch F32 (model.py Retro.step): {rate:F1} tok/s (spread {spread})");
                double e32 = ParityAgainst(peerLogits, f32.Logits), e16 = ParityAgainst(peerLogits, bf16.Logits);
                Console.WriteLine($"  agreement with PyTorch at positions [{string.Join(", ", checks)}]: F32 rel. error {e32:E2} (≤ {Fp32Tolerance:E0}), BF16 {e16:E2} (≤ {Bf16Tolerance:E0})");
                if (!(e32 <= Fp32Tolerance) || !(e16 <= Bf16Tolerance))
                {
                    Console.Error.WriteLine("decode: outputs disagree with PyTorch beyond tolerance");
                    return 2;
                }
                Console.WriteLine($"  ratio ours/peer: BF16 {bf16.Rate / rate:F2}, F32 {f32.Rate / rate:F2}");
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"decode: ours={bf16.Rate:F1} peer={peerRate:F1} ratio={bf16.Rate / peerRate:F2}"));
            return 0;
        }
        finally
        {
            if (!keep && Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// <c>--model DIR</c>: a given checkpoint folder (e.g. the shipped models/retro) instead of the random d-512 one,
    /// ours only (single session, then <c>--batch</c> sessions): how this model's steps scale with batching.
    /// </summary>
    private static int RunModel(string folder, int tokens, int repeats, int threads, int batchSize)
    {
        var config = RetroConfig.Load(Path.Combine(folder, "config.json"));
        tokens = Math.Min(tokens, config.MaxSeqLen);
        Console.WriteLine($"decode: model {folder}: {config.NLayers} layers, d {config.DModel}, V {config.VocabSize}, {tokens} tokens, " +
                          $"k {config.NumNeighbours} × r {config.NeighbourLen} every {config.ChunkSize}; {threads} threads, {repeats} repeats");
        var (ids, neighbours, checks) = Inputs(config, tokens, seed: 99);
        double gbs = MeasureBandwidth(threads);
        using var backend = new CpuBackend(threads);
        var single = RunOurs(backend, folder, ids, neighbours, checks, repeats, gbs, "model");
        if (batchSize > 1) RunBatch(backend, folder, ids, neighbours, batchSize, repeats, single, "model");
        NeighbourScaling(backend, folder);
        return 0;
    }

    /// <summary>
    /// What encoding k neighbours in one call costs, k = 0, 1, 2, 4, 8: the step that completes chunk 0 (it runs the
    /// neighbour encoder over the k neighbours' rows, then the step), median of 25. Encoding the neighbours of k
    /// concurrent sessions together would run the same products over the same rows (only the chunk states each
    /// neighbour cross-attends to differ per session), so the cost per neighbour at k against k = 1 is what batching
    /// them across sessions could save.
    /// </summary>
    private static void NeighbourScaling(IBackend backend, string folder)
    {
        using var decoder = RetroDecoder.Load(folder, backend);
        var c = decoder.Config;
        var rng = new Random(7);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(1, c.VocabSize)).ToArray();
        var prompt = Tokens(c.ChunkSize - 1);
        using var session = decoder.CreateSession(maxNeighbours: 8);
        double Median(int k)
        {
            var list = Enumerable.Range(0, k).Select(_ => Tokens(c.NeighbourLen)).ToList();
            var ms = new double[25];
            for (int rep = -3; rep < ms.Length; rep++)
            {
                session.Reset();
                session.Prefill(prompt, _ => null);
                long t0 = Stopwatch.GetTimestamp();
                session.Step(prompt[0], k == 0 ? null : list);
                if (rep >= 0) ms[rep] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            Array.Sort(ms);
            return ms[ms.Length / 2];
        }
        double none = Median(0), one = Median(1) - none;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  neighbour encoding in one call ({c.NeighbourLen} tokens each; a chunk-completing step minus a plain one, {none:F2} ms): k=1 {one:F2} ms"));
        foreach (int k in new[] { 2, 4, 8 })
        {
            double per = (Median(k) - none) / k;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  k={k}: {per:F2} ms per neighbour ({per / one:P0} of k=1's; batching {k} sessions' neighbours could save {1 - per / one:P0} of their encoding)"));
        }
    }

    private sealed record Ours(double Rate, float[] Logits)
    {
        /// <summary>Logits of the last position (the last check).</summary>
        public float[] LastLogits => Logits.AsSpan(Logits.Length - Logits.Length / Checks, Logits.Length / Checks).ToArray();

        public int Checks { get; init; } = 1;
    }

    private static Ours RunOurs(IBackend backend, string folder, int[] ids, int[] neighbours, int[] checks, int repeats, double gbs, string label)
    {
        using var decoder = RetroDecoder.Load(folder, backend);
        var c = decoder.Config;
        using var session = decoder.CreateSession(maxSequenceLength: ids.Length);
        int v = c.VocabSize, kr = c.NumNeighbours * c.NeighbourLen;
        var logits = new float[checks.Length * v];
        var byChunk = new List<int[][]>();
        for (int u = 0; u * kr < neighbours.Length; u++)
        {
            var list = new int[c.NumNeighbours][];
            for (int j = 0; j < list.Length; j++) list[j] = neighbours.AsSpan(u * kr + j * c.NeighbourLen, c.NeighbourLen).ToArray();
            byChunk.Add(list);
        }

        void Decode(bool record)
        {
            session.Reset();
            int next = 0;
            for (int p = 0; p < ids.Length; p++)
            {
                var nb = session.NextCompletesChunk && session.NextChunkIndex < byChunk.Count ? byChunk[session.NextChunkIndex] : null;
                var l = session.Step(ids[p], nb);
                if (record && next < checks.Length && checks[next] == p) l.CopyTo(logits.AsSpan(next++ * v, v));
            }
        }

        Decode(record: true); // warm-up (JIT, page faults of the mapping) and the outputs to compare
        var rates = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Decode(record: false);
            rates[i] = ids.Length / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        double rate = Median(rates);
        long weightBytes = decoder.Weights.BytesPerStep();
        // KV cache read by attention, averaged over the context, plus the CCA keys/values of one chunk
        double kvBytes = (double)c.NLayers * 2 * c.DModel * 4 * (ids.Length + 1) / 2 + (double)c.CcaLayers.Count * 2 * kr * c.DModel * 4;
        double moved = (weightBytes + kvBytes) * rate / 1e9;
        Console.WriteLine($"  ours {label}: {rate:F1} tok/s (spread {Spread(rates)}); weights read per token {weightBytes / 1e6:F1} MB " +
                          $"(+ {kvBytes / 1e6:F1} MB KV/CCA cache on average) → {moved:F1} GB/s of {gbs:F1} GB/s measured " +
                          $"(bandwidth bound {gbs * 1e9 / (weightBytes + kvBytes):F0} tok/s)");
        return new Ours(rate, logits) { Checks = checks.Length };
    }

    /// <summary>ONNX Runtime (CPU execution provider, <paramref name="threads"/> threads) on the export of the same F32 weights, step by step with the KV cache.</summary>
    private static Ours RunOrt(string folder, int[] ids, int[] neighbours, int[] checks, int repeats, int threads)
    {
        using var decoder = Retro.Engine.Onnx.OnnxRetroDecoder.Load(folder, new Retro.Engine.Onnx.OnnxSessionFactory(Retro.Engine.Onnx.OnnxDevice.Cpu, threads),
            tokenizer: Retro.Tokenizers.TokenizerLoader.FromFolder(Path.Combine(RepoRoot(), "tests", "fixtures", "retro-tiny"))); // ids only: any tokenizer within the vocabulary
        var c = decoder.Config;
        int v = c.VocabSize, kr = c.NumNeighbours * c.NeighbourLen, m = c.ChunkSize;
        var logits = new float[checks.Length * v];
        var row = new float[v];
        void Decode(bool record)
        {
            using var session = decoder.CreateSession();
            int next = 0;
            for (int p = 0; p < ids.Length; p++)
            {
                int u = (p + 1) / m - 1;
                IReadOnlyList<int[]> nb = (p + 1) % m == 0 && (u + 1) * kr <= neighbours.Length
                    ? Enumerable.Range(0, c.NumNeighbours).Select(j => neighbours.AsSpan(u * kr + j * c.NeighbourLen, c.NeighbourLen).ToArray()).ToArray()
                    : [];
                session.Feed(ids.AsSpan(p, 1), nb, row);
                if (record && next < checks.Length && checks[next] == p) row.CopyTo(logits.AsSpan(next++ * v, v));
            }
        }
        Decode(record: true);
        var rates = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Decode(record: false);
            rates[i] = ids.Length / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Console.WriteLine($"  ONNX Runtime F32 (CPU EP, {threads} threads): {Median(rates):F1} tok/s (spread {Spread(rates)})");
        return new Ours(Median(rates), logits) { Checks = checks.Length };
    }

    /// <summary>B sessions stepped together with <see cref="RetroDecoder.StepBatch"/>, all completing chunks on the same step.</summary>
    private static void RunBatch(IBackend backend, string folder, int[] ids, int[] neighbours, int size, int repeats, Ours single, string label)
    {
        using var decoder = RetroDecoder.Load(folder, backend);
        var c = decoder.Config;
        int v = c.VocabSize, kr = c.NumNeighbours * c.NeighbourLen;
        var sessions = new RetroSession[size];
        for (int b = 0; b < size; b++) sessions[b] = decoder.CreateSession(maxSequenceLength: ids.Length);
        using var batch = new RetroBatch(decoder, size);
        var tokens = new int[size];
        var lists = new IReadOnlyList<int[]>?[size];
        var logits = new float[size * v];
        var byChunk = new List<int[][]>();
        for (int u = 0; u * kr < neighbours.Length; u++)
        {
            var list = new int[c.NumNeighbours][];
            for (int j = 0; j < list.Length; j++) list[j] = neighbours.AsSpan(u * kr + j * c.NeighbourLen, c.NeighbourLen).ToArray();
            byChunk.Add(list);
        }
        void Decode()
        {
            foreach (var s in sessions) s.Reset();
            for (int p = 0; p < ids.Length; p++)
            {
                var nb = sessions[0].NextCompletesChunk && sessions[0].NextChunkIndex < byChunk.Count ? byChunk[sessions[0].NextChunkIndex] : null;
                for (int b = 0; b < size; b++) { tokens[b] = ids[p]; lists[b] = nb; }
                decoder.StepBatch(batch, sessions, tokens, lists, logits);
            }
        }
        Decode();
        double agree = ParityAgainst(single.LastLogits, logits.AsSpan(0, v).ToArray());
        var rates = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Decode();
            rates[i] = size * ids.Length / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        foreach (var s in sessions) s.Dispose();
        Console.WriteLine($"  ours {label} batch of {size}: {Median(rates):F1} tok/s in all (spread {Spread(rates)}), {Median(rates) / size:F1} per session; " +
                          $"last logits vs batch-1 rel. error {agree:E2}");
    }

    private static (double Rate, string Spread, float[] Logits) RunPeer(string root, string inputs, int repeats, int threads, string? peerLib)
    {
        string script = Path.Combine(RepoRoot(), "tests", "Retro.Benchmarks", "peers", "decode_peer.py");
        string output = Path.Combine(root, "peer_logits.safetensors");
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { script, "--model", Path.Combine(root, "f32"), "--inputs", inputs, "--out", output,
                     "--repeats", repeats.ToString(CultureInfo.InvariantCulture), "--threads", threads.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("OPENBLAS_CORETYPE"); // the image pins OpenBLAS to AVX2; let it use AVX-512
        psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        if (peerLib is not null) // e.g. an unpacked libopenblas0-pthread: its libblas.so.3 replaces Debian's netlib one
            psi.Environment["LD_LIBRARY_PATH"] = peerLib + (psi.Environment.TryGetValue("LD_LIBRARY_PATH", out var old) && !string.IsNullOrEmpty(old) ? ":" + old : "");
        Console.WriteLine($"peer: BLAS {(peerLib is null ? "the system's libblas.so.3 (netlib on Debian unless OpenBLAS is installed: pass --peer-lib DIR)" : "from " + peerLib)}");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"peer failed ({p.ExitCode}): {stderr.Result}");
        string last = stdout.Trim().Split('\n')[^1];
        using var doc = JsonDocument.Parse(last);
        var rates = doc.RootElement.GetProperty("tok_s").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        using var file = SafetensorsFile.Open(output);
        return (Median(rates), Spread(rates), file.Get("logits").ToFloatArray());
    }

    private static (int[] Ids, int[] Neighbours, int[] Checks) Inputs(RetroConfig c, int tokens, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = rng.Next(c.VocabSize);
        int chunks = tokens / c.ChunkSize;
        var neighbours = new int[chunks * c.NumNeighbours * c.NeighbourLen];
        for (int i = 0; i < neighbours.Length; i++) neighbours[i] = rng.Next(c.VocabSize);
        // positions: before any neighbours, the first position with them, the second chunk's, and the last
        var checks = new[] { 0, c.ChunkSize - 2, c.ChunkSize - 1, c.ChunkSize, 2 * c.ChunkSize - 1, tokens / 2, tokens - 1 }
            .Where(p => p < tokens).Distinct().Order().ToArray();
        return (ids, neighbours, checks);
    }

    /// <summary>max |ours − ref| / max |ref| over the checked logits.</summary>
    private static double ParityAgainst(float[] reference, float[] ours)
    {
        double maxRef = 1e-6, maxDiff = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs(reference[i]));
            double d = Math.Abs((double)ours[i] - reference[i]);
            if (!(d <= maxDiff)) maxDiff = d;
        }
        return maxDiff / maxRef;
    }

    /// <summary>Read bandwidth of a 512 MiB buffer summed with Vector512 on <paramref name="threads"/> threads (best of 3).</summary>
    private static unsafe double MeasureBandwidth(int threads)
    {
        long bytes = 512L << 20;
        var buffer = GC.AllocateUninitializedArray<float>((int)(bytes / 4), pinned: true);
        Parallel.For(0, threads, t => buffer.AsSpan((int)(buffer.Length / threads * (long)t), buffer.Length / threads).Fill(1f));
        double best = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var sums = new float[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int n = buffer.Length / threads;
                fixed (float* p0 = &buffer[n * t])
                {
                    var a = Vector512<float>.Zero; var b = a; var c = a; var d = a;
                    for (int i = 0; i + 64 <= n; i += 64)
                    {
                        a += Vector512.Load(p0 + i); b += Vector512.Load(p0 + i + 16);
                        c += Vector512.Load(p0 + i + 32); d += Vector512.Load(p0 + i + 48);
                    }
                    sums[t] = Vector512.Sum(a + b + c + d);
                }
            });
            best = Math.Max(best, bytes / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        return best;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "src", "training", "model.py"))) return dir.FullName;
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "src", "training", "model.py"))) return dir.FullName;
        throw new DirectoryNotFoundException("repository root (with src/training/model.py) not found");
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static string Spread(double[] v) => string.Create(CultureInfo.InvariantCulture, $"{v.Min():F1}–{v.Max():F1}");
}
