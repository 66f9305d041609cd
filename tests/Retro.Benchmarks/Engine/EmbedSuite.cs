using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Retro.Engine;
using Retro.Engine.Bert;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu;

namespace Retro.Benchmarks.Engine;

/// <summary>
/// <c>embed</c>: the BERT bi-encoder forward pass (6 layers, d 384, 12 heads, FFN 1536 by default) on a batch of
/// 32 × 128 tokens, ours (CPU backend) vs PyTorch (src/training/model.py, 2 threads) on the same random weights
/// and inputs, with an output agreement check. Sequences per second, GFLOP/s against the 2-core FP32 FMA peak.
/// </summary>
public sealed class EmbedSuite : ISuite
{
    private const double PeakGflops = 467; // 2 cores × 2 FMA pipes × 16 lanes × 2 flops × ~3.6 GHz (ENVIRONMENT.md)
    private const double AgreementTolerance = 1e-4;

    public string Name => "embed";

    public string Description => "BERT bi-encoder forward (6×384, batch 32×128): ours vs PyTorch and ONNX Runtime, seq/s";

    public int Run(string[] args)
    {
        var o = Options.Parse(args);
        string root = Path.Combine(Path.GetTempPath(), $"retro-embed-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        try
        {
            string model = Path.Combine(root, "model");
            string inputs = Path.Combine(root, "inputs.safetensors");
            EmbedModelWriter.Write(model, o.Layers, o.Hidden, o.Heads, o.Ffn, o.Length, o.WeightType, seed: 1);
            var (ids, mask, types) = EmbedModelWriter.Inputs(o.Batch, o.Length, vocab: EmbedModelWriter.Vocab, seed: 2);
            EmbedModelWriter.WriteInputs(inputs, o.Batch, o.Length, ids, mask, types);

            double flops = Flops(o);
            Console.WriteLine($"embed: {o.Layers} layers, d {o.Hidden}, {o.Heads} heads, FFN {o.Ffn}, batch {o.Batch} x {o.Length} tokens, " +
                              $"weights {o.WeightType}, {o.Threads} threads; {flops / 1e9:F1} GFLOP per batch");

            if (o.Profile) Profile(model, o, ids, mask, types);
            var (ourSeconds, ours) = RunOurs(model, o, ids, mask, types);
            double ourRate = o.Batch / Median(ourSeconds);
            Report("ours", ourSeconds, o.Batch, flops);
            if (!o.NoOrt)
            {
                OnnxPeer.Export(model);
                var (ortSeconds, ort) = RunOrt(model, o, ids, mask, types);
                Report("onnxruntime", ortSeconds, o.Batch, flops);
                double ortError = RelativeError(ours, ort);
                Console.WriteLine($"agreement: max|ort - ours| / max|ours| over the embeddings = {ortError:E2}");
                Console.WriteLine($"embed-ort: ours={ourRate:F1} ort={o.Batch / Median(ortSeconds):F1} ratio={ourRate / (o.Batch / Median(ortSeconds)):F2} (ONNX Runtime CPU EP, same weights, {o.Threads} threads)");
            }

            if (o.NoPeer)
            {
                Console.WriteLine($"embed: ours={ourRate:F1} peer=n/a ratio=n/a");
                return 0;
            }
            var (peerSeconds, peer) = RunPeer(root, model, inputs, o);
            double peerRate = o.Batch / Median(peerSeconds);
            Report("peer", peerSeconds, o.Batch, flops);
            double error = RelativeError(peer, ours);
            double tolerance = o.WeightType == DType.F32 ? AgreementTolerance : 1e-2;
            Console.WriteLine($"agreement: max|ours - peer| / max|peer| over the embeddings = {error:E2} (tolerance {tolerance:E0}) {(error <= tolerance ? "OK" : "FAILED")}");
            Console.WriteLine($"embed: ours={ourRate:F1} peer={peerRate:F1} ratio={ourRate / peerRate:F2}");
            return error <= tolerance ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static (double[] Seconds, float[] Embeddings) RunOurs(string model, Options o, int[] ids, int[] mask, int[] types)
    {
        using var backend = new CpuBackend(o.Threads);
        using var encoder = BertEncoder.Load(model, backend);
        using var state = encoder.CreateState(o.Batch, o.Length);
        var embeddings = new float[o.Batch * o.Hidden];
        for (int i = 0; i < o.Warmup; i++)
        {
            encoder.Forward(state, ids, types, mask, o.Batch, o.Length);
            encoder.Pool(state, o.Batch, o.Length, embeddings);
        }
        var seconds = new double[o.Repeats];
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        for (int i = 0; i < o.Repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            encoder.Forward(state, ids, types, mask, o.Batch, o.Length);
            encoder.Pool(state, o.Batch, o.Length, embeddings);
            seconds[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds / o.Repeats;
        Console.WriteLine($"ours: {cpu * 1e3:F0} ms CPU time per batch over {o.Threads} threads " +
                          $"(wall/CPU shows contention: a quiet machine runs a batch in about CPU/{o.Threads})");
        return (seconds, embeddings);
    }

    /// <summary>ONNX Runtime (CPU execution provider, same threads) on the same weights, exported by src/training/export_onnx.py.</summary>
    private static (double[] Seconds, float[] Embeddings) RunOrt(string model, Options o, int[] ids, int[] mask, int[] types)
    {
        using var encoder = Retro.Engine.Onnx.OnnxTextEncoder.Load(model, new Retro.Engine.Onnx.OnnxSessionFactory(Retro.Engine.Onnx.OnnxDevice.Cpu, o.Threads), maxBatch: o.Batch,
            tokenizer: Retro.Tokenizers.TokenizerLoader.FromFolder(Path.Combine(RepoRoot(), "tests", "fixtures", "bert-tiny"))); // inputs come as ids: any tokenizer within the vocabulary
        var inputs = new List<Retro.Tokenizers.ModelInput>();
        for (int b = 0; b < o.Batch; b++)
            inputs.Add(new(ids.AsSpan(b * o.Length, o.Length).ToArray(), types.AsSpan(b * o.Length, o.Length).ToArray(), mask.AsSpan(b * o.Length, o.Length).ToArray()));
        var embeddings = new float[o.Batch * o.Hidden];
        for (int i = 0; i < o.Warmup; i++) encoder.Encode(inputs, embeddings);
        var seconds = new double[o.Repeats];
        for (int i = 0; i < o.Repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            encoder.Encode(inputs, embeddings);
            seconds[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return (seconds, embeddings);
    }

    /// <summary>CPU time per op kind of one layer (process CPU time, so contention from other processes shows less).</summary>
    private static void Profile(string model, Options o, int[] ids, int[] mask, int[] types)
    {
        using var backend = new CpuBackend(o.Threads);
        using var encoder = BertEncoder.Load(model, backend);
        using var s = encoder.CreateState(o.Batch, o.Length);
        encoder.Forward(s, ids, types, mask, o.Batch, o.Length);
        var l = encoder.Weights.Layers[0];
        int rows = o.Batch * o.Length;
        double h = o.Hidden;
        var shape = new AttentionShape(o.Batch, o.Length, o.Length, o.Length, o.Heads, o.Hidden / o.Heads, 0.125f);
        var maskT = s.AttentionMask.SliceColumns(0, rows);
        var ops = new (string Name, double Flops, Action Run)[]
        {
            ("q projection (x 4 per layer)", 2 * rows * h * h, () => backend.MatMul(s.Hidden, l.Query, l.QueryBias, s.Query)),
            ("ffn in + gelu", 2 * rows * h * o.Ffn, () => backend.MatMul(s.Hidden, l.Intermediate, l.IntermediateBias, s.Intermediate, MatMulEpilogue.Gelu)),
            ("ffn out + residual", 2 * rows * h * o.Ffn, () => backend.MatMul(s.Intermediate, l.Output, l.OutputBias, s.Context, MatMulEpilogue.Accumulate)),
            ("attention", 4.0 * o.Batch * o.Length * o.Length * h, () => backend.Attention(s.Query, s.Key, s.Value, maskT, s.Context, shape)),
            ("layer norm", 0, () => backend.LayerNorm(s.Hidden, l.OutputNormWeight, l.OutputNormBias, 1e-12f, s.Hidden)),
        };
        var process = Process.GetCurrentProcess();
        foreach (var (name, flops, run) in ops)
        {
            run();
            const int n = 5;
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++) run();
            double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds / n;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds / n;
            Console.WriteLine($"  {name,-30} wall {wall * 1e3,7:F2} ms  cpu {cpu * 1e3,7:F2} ms" +
                              (flops > 0 ? $"  {flops / cpu / 1e9,6:F1} GFLOP per CPU-second" : ""));
        }
    }

    private static (double[] Seconds, float[] Embeddings) RunPeer(string root, string model, string inputs, Options o)
    {
        string script = Path.Combine(RepoRoot(), "tests", "Retro.Benchmarks", "peers", "embed_peer.py");
        string output = Path.Combine(root, "peer_embeddings.safetensors");
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "--model", model, "--inputs", inputs, "--out", output,
                     "--warmup", Str(o.Warmup), "--repeats", Str(o.Repeats), "--threads", Str(o.Threads) })
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("OPENBLAS_CORETYPE");      // the image pins OpenBLAS to AVX2; give the peer AVX-512
        psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE";   // otherwise its threads spin against each other on 2 cores
        psi.Environment["OMP_NUM_THREADS"] = Str(o.Threads);
        if (o.PeerLibraryPath is { } lib) // e.g. an unpacked libopenblas0-pthread: its libblas.so.3 replaces netlib's
            psi.Environment["LD_LIBRARY_PATH"] = lib + (psi.Environment.TryGetValue("LD_LIBRARY_PATH", out var old) && !string.IsNullOrEmpty(old) ? ":" + old : "");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"peer failed ({p.ExitCode}): {stderr.Result}");
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var seconds = doc.RootElement.GetProperty("seconds").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double cpu = doc.RootElement.GetProperty("cpu_seconds").GetDouble() / seconds.Length;
        Console.WriteLine($"peer: {cpu * 1e3:F0} ms CPU time per batch over {o.Threads} threads");
        string blas = string.Join(", ", doc.RootElement.GetProperty("blas").EnumerateArray().Select(e => e.GetString()));
        Console.WriteLine($"peer: torch {doc.RootElement.GetProperty("torch").GetString()}, {doc.RootElement.GetProperty("threads").GetInt32()} threads, BLAS {blas}");
        if (blas.Contains("/blas/libblas", StringComparison.Ordinal))
            Console.WriteLine("peer: WARNING: netlib reference BLAS (no OpenBLAS installed): the peer is far below its best; pass --peer-lib DIR with OpenBLAS's libblas.so.3");
        using var file = SafetensorsFile.Open(output);
        return (seconds, file.Get("embeddings").ToFloatArray());
    }

    /// <summary>Multiply-adds × 2 of the projections, FFN and attention (q·kᵀ and p·v); norms and GELU not counted.</summary>
    private static double Flops(Options o)
    {
        double rows = (double)o.Batch * o.Length, h = o.Hidden;
        double perLayer = 2 * rows * (4 * h * h + 2 * h * o.Ffn) + 2 * 2 * o.Batch * (double)o.Length * o.Length * h;
        return o.Layers * perLayer;
    }

    private static void Report(string who, double[] seconds, int batch, double flops)
    {
        double median = Median(seconds);
        Console.WriteLine($"{who}: median {median * 1e3:F1} ms per batch (min {seconds.Min() * 1e3:F1}, max {seconds.Max() * 1e3:F1}, n={seconds.Length}) " +
                          $"= {batch / median:F1} seq/s, {flops / median / 1e9:F0} GFLOP/s ({100 * flops / median / 1e9 / PeakGflops:F0}% of {PeakGflops:F0} peak)");
    }

    private static double RelativeError(float[] reference, float[] ours)
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

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        throw new InvalidOperationException("no Retro.sln above the benchmark binaries");
    }

    private sealed record Options(int Layers, int Hidden, int Heads, int Ffn, int Batch, int Length, int Warmup, int Repeats, int Threads, DType WeightType, bool NoPeer, bool Profile, string? PeerLibraryPath, bool NoOrt = false)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(6, 384, 12, 1536, 32, 128, 2, 7, 2, DType.F32, false, false, null);
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                int Next() => int.Parse(args[++i], CultureInfo.InvariantCulture);
                o = a switch
                {
                    "--layers" => o with { Layers = Next() },
                    "--hidden" => o with { Hidden = Next() },
                    "--heads" => o with { Heads = Next() },
                    "--ffn" => o with { Ffn = Next() },
                    "--batch" => o with { Batch = Next() },
                    "--length" => o with { Length = Next() },
                    "--warmup" => o with { Warmup = Next() },
                    "--repeats" => o with { Repeats = Next() },
                    "--threads" => o with { Threads = Next() },
                    "--bf16" => o with { WeightType = DType.BF16 },
                    "--no-peer" => o with { NoPeer = true },
                    "--no-ort" => o with { NoOrt = true },
                    "--profile" => o with { Profile = true },
                    "--peer-lib" => o with { PeerLibraryPath = args[++i] },
                    _ => throw new ArgumentException($"unknown option {a} (--layers --hidden --heads --ffn --batch --length --warmup --repeats --threads --bf16 --no-peer --no-ort --profile --peer-lib DIR)"),
                };
            }
            return o;
        }
    }
}
