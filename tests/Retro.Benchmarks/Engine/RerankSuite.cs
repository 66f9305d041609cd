using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Retro.Engine.Bert;
using Retro.Engine.Cpu;
using Retro.Tokenizers;

namespace Retro.Benchmarks.Engine;

/// <summary>
/// <c>rerank</c>: what the cross-encoder costs one answer of the service. One call scores <c>--pairs</c> (question,
/// candidate) pairs as <see cref="Core.Retriever"/> does for a question (16 candidates by default,
/// <c>Retro:Retrieval:Candidates</c>): definition questions about the sample corpus's entries against chunks of
/// its documents (the entry's first line as the title, then 64 tokens of the decoder's tokenizer, as the indexer cuts
/// them). Ours (<see cref="BertReranker"/> on the CPU backend) at 2 threads and at 1, against ONNX Runtime's CPU EP on
/// the same weights and pairs, with a score agreement check. Milliseconds per call, GFLOP/s of the call's
/// products; the serve suite's bound reads its per-answer cost from here.
/// </summary>
public sealed class RerankSuite : ISuite
{
    private const double AgreementTolerance = 1e-3; // BF16 weights widened alike; the sums differ in order only

    public string Name => "rerank";

    public string Description => "reranking one answer's 16 (question, chunk) pairs: the cross-encoder, ours (2 and 1 threads) vs ONNX Runtime, and the learned ranker; calls/s";

    public int Run(string[] args)
    {
        int pairs = (int)Arg(args, "--pairs", 16);
        int repeats = (int)Arg(args, "--repeats", 15);
        int warmup = (int)Arg(args, "--warmup", 3);
        int threads = (int)Arg(args, "--threads", 2);
        string root = RepoRoot();
        string shipped = Path.Combine(root, "models", "reranker");
        string folder = File.Exists(Path.Combine(shipped, "model.safetensors")) ? shipped : Path.Combine(root, "tests", "fixtures", "cross-tiny");
        string decoderTokenizer = File.Exists(Path.Combine(root, "models", "retro", "tokenizer.json"))
            ? Path.Combine(root, "models", "retro") : Path.Combine(root, "tests", "fixtures", "retro-tiny");
        var (questions, candidates) = Workload(Path.Combine(root, "samples", "corpus", "sample.jsonl.gz"),
            TokenizerLoader.FromFolder(decoderTokenizer), pairs, repeats + warmup);

        using var backend = new CpuBackend(threads);
        using var reranker = BertReranker.Load(folder, backend);
        var config = ReadShape(folder);
        var pairTokenizer = TokenizerLoader.FromFolder(folder);
        var lengths = questions.Select((q, i) => candidates[i].Select(c => pairTokenizer.EncodeForModel(q, c, reranker.MaxLength).Length).ToArray()).ToArray(); // as the reranker builds the pairs
        double rows = lengths.Average(l => l.Sum()), longest = lengths.Max(l => l.Max());
        double gflop = lengths.Average(l => Flops(config, l)) / 1e9;
        Console.WriteLine($"rerank: {folder} ({config.Layers} layers, d {config.Hidden}, FFN {config.Ffn}); {pairs} pairs per call, " +
                          $"{rows / pairs:F1} tokens per pair on average (longest {longest}), {gflop:F2} GFLOP per call (projections, FFN, attention)");

        var ours = Time($"ours, {threads} threads", reranker, questions, candidates, warmup, gflop);
        double oursRate = 1000 / Median(ours.Ms);
        using (var one = new CpuBackend(1))
        using (var single = BertReranker.Load(folder, one))
            Time("ours, 1 thread", single, questions, candidates, warmup, gflop);
        TimeRanker(Path.Combine(root, "models", "ranker"), questions, candidates, warmup, oursRate);
        if (args.Contains("--no-peer"))
        {
            Console.WriteLine($"rerank: ours={oursRate:F2} peer=n/a ratio=n/a");
            return 0;
        }

        string work = Directory.CreateTempSubdirectory("retro-rerank-bench-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(folder)) File.Copy(file, Path.Combine(work, Path.GetFileName(file)));
            OnnxPeer.Export(work);
            using var ort = Retro.Engine.Onnx.OnnxReranker.Load(work, new Retro.Engine.Onnx.OnnxSessionFactory(Retro.Engine.Onnx.OnnxDevice.Cpu, threads));
            var peer = Time($"onnxruntime, {threads} threads", ort, questions, candidates, warmup, gflop);
            double error = 0, scale = 0;
            for (int i = 0; i < ours.Scores.Length; i++)
            {
                error = Math.Max(error, Math.Abs(ours.Scores[i] - peer.Scores[i]));
                scale = Math.Max(scale, Math.Abs(peer.Scores[i]));
            }
            double relative = error / Math.Max(scale, 1e-12);
            Console.WriteLine($"agreement: max|ours - ort| / max|ort| over the scores = {relative:E2} (tolerance {AgreementTolerance:E0})");
            double peerRate = 1000 / Median(peer.Ms);
            Console.WriteLine($"rerank: ours={oursRate:F2} peer={peerRate:F2} ratio={oursRate / peerRate:F2} (calls of {pairs} pairs per second; peer: ONNX Runtime CPU EP)");
            return relative <= AgreementTolerance ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// The learned ranker (the service's default reranker, <see cref="Core.Ranking.LexicalRanker"/>) on the same
    /// questions and candidates (title and text apart, as the retriever gives them): median ms per call, and its
    /// calls per second against the cross-encoder's.
    /// </summary>
    private static void TimeRanker(string folder, string[] questions, string[][] candidates, int warmup, double crossEncoderRate)
    {
        if (!Core.Ranking.LexicalRanker.IsRankerFolder(folder))
        {
            Console.WriteLine($"ranker: no {folder}/ranker.json; skipped");
            return;
        }
        var ranker = Core.Ranking.LexicalRanker.Load(folder);
        var lists = candidates.Select(c => c.Select((t, j) =>
        {
            int nl = t.IndexOf('\n'); // Chunk.RetrievalText: title, newline, text
            return new Core.Ranking.RankerCandidate("doc" + j, nl < 0 ? "" : t[..nl], nl < 0 ? t : t[(nl + 1)..]);
        }).ToArray()).ToArray();
        var buffer = new float[candidates[0].Length];
        var ms = new double[questions.Length - warmup];
        for (int i = 0; i < questions.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            ranker.Score(questions[i], lists[i], buffer);
            if (i >= warmup) ms[i - warmup] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        double rate = 1000 / Median(ms);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"learned ranker ({ranker.ModelId}), 1 thread: median {Median(ms):F3} ms per call (n={ms.Length}); " +
            $"rerank-ranker: ranker={rate:F0} cross-encoder={crossEncoderRate:F2} ratio={rate / crossEncoderRate:F0} (calls per second)"));
    }

    private sealed record Shape(int Layers, int Hidden, int Ffn);

    private static Shape ReadShape(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        var r = doc.RootElement;
        return new(r.GetProperty("num_hidden_layers").GetInt32(), r.GetProperty("hidden_size").GetInt32(), r.GetProperty("intermediate_size").GetInt32());
    }

    /// <summary>
    /// FLOPs of one call: per layer and token row, q/k/v/o (4·d²) and the FFN (2·d·F) multiply-adds; per pair of
    /// L rows, the two attention products (2·L²·d); 2 FLOPs per multiply-add.
    /// </summary>
    private static double Flops(Shape s, int[] lengths) =>
        lengths.Sum(l => 2.0 * s.Layers * (l * (4.0 * s.Hidden * s.Hidden + 2.0 * s.Hidden * s.Ffn) + 2.0 * l * l * s.Hidden));

    private static (double[] Ms, float[] Scores) Time(string label, Core.IReranker reranker, string[] questions, string[][] candidates, int warmup, double gflop)
    {
        int calls = questions.Length;
        var ms = new double[calls - warmup];
        var scores = new float[(calls - warmup) * candidates[0].Length];
        var buffer = new float[candidates[0].Length];
        for (int i = 0; i < calls; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            reranker.Score(questions[i], candidates[i], buffer);
            if (i < warmup) continue;
            ms[i - warmup] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            buffer.CopyTo(scores, (i - warmup) * buffer.Length);
        }
        var sorted = ms.Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}: median {Median(ms):F1} ms per call (min {sorted[0]:F1}, max {sorted[^1]:F1}, n={ms.Length}), {gflop / Median(ms) * 1000:F0} GFLOP/s"));
        return (ms, scores);
    }

    /// <summary>
    /// <paramref name="calls"/> calls' inputs: call i asks "What is HEADWORD?" about entry i and scores it against
    /// <paramref name="pairs"/> chunks: its own first chunk and those of the entries after it.
    /// </summary>
    private static (string[] Questions, string[][] Candidates) Workload(string corpus, Tokenizer decoder, int pairs, int calls)
    {
        var chunks = new List<(string Title, string Text)>();
        using (var gz = new GZipStream(File.OpenRead(corpus), CompressionMode.Decompress))
        using (var reader = new StreamReader(gz))
        {
            string? line;
            while (chunks.Count < calls + pairs && (line = reader.ReadLine()) is not null)
            {
                using var doc = JsonDocument.Parse(line);
                string text = doc.RootElement.GetProperty("text").GetString() ?? "";
                int nl = text.IndexOf('\n');
                if (nl <= 0 || nl > 80) continue;
                string body = text[(nl + 1)..].Trim();
                var ids = decoder.Encode(body);
                if (ids.Length < 64) continue; // a full chunk, as most retrieved ones are
                chunks.Add((text[..nl].Trim(), decoder.Decode(ids.AsSpan(0, 64))));
            }
        }
        if (chunks.Count < calls + pairs) throw new InvalidOperationException($"the sample corpus has only {chunks.Count} entries with a full chunk; {calls + pairs} needed");
        var questions = new string[calls];
        var candidates = new string[calls][];
        for (int i = 0; i < calls; i++)
        {
            questions[i] = $"What is {chunks[i].Title}?";
            candidates[i] = Enumerable.Range(i, pairs).Select(j => Core.Chunk.RetrievalText(chunks[j].Title, chunks[j].Text)).ToArray();
        }
        return (questions, candidates);
    }

    private static double Median(double[] values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static double Arg(string[] args, string name, double fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string RepoRoot()
    {
        string dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Retro.sln"))) dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("no Retro.sln above the benchmark");
        return dir;
    }
}
