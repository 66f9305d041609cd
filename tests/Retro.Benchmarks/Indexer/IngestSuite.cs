using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Retro.Benchmarks.Engine;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine;
using Retro.Engine.Bert;
using Retro.Engine.Cpu;
using Retro.Ingestion;
using Retro.Ingestion.Chunking;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;
using Retro.Ingestion.Telemetry;
using Retro.Tokenizers;
using Retro.Tokenizers.Training;
using Retro.VectorStore;

namespace Retro.Benchmarks.Indexer;

/// <summary>
/// <c>ingest</c>: end-to-end chunks/s of the indexer pipeline (read, tokenize, chunk, embed, upsert into a fresh
/// embedded store with the product's HNSW defaults, checkpoint) on the first documents of the shipped sample,
/// against the bi-encoder alone embedding the same chunk texts in the same batches, in the same process. The ratio
/// says how much the pipeline costs on top of the model; the goal is ≥ 0.9.
/// </summary>
public sealed class IngestSuite : ISuite
{
    public string Name => "ingest";

    public string Description => "indexer end to end (sample -> embedded store) vs the bi-encoder alone on the same chunks, chunks/s";

    public int Run(string[] args)
    {
        var o = Options.Parse(args);
        string root = Path.Combine(Path.GetTempPath(), $"retro-ingest-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        try
        {
            string repo = RepoRoot();
            string shard = Path.Combine(root, "sample.jsonl");
            var texts = WriteShard(Path.Combine(repo, "samples", "corpus", "sample.jsonl.gz"), shard, o.Documents);

            string encoderFolder = o.Encoder ?? (Directory.Exists(Path.Combine(repo, "models", "encoder")) ? Path.Combine(repo, "models", "encoder") : null)
                ?? WriteRandomEncoder(Path.Combine(root, "encoder"), texts);
            ITokenizer decoder = o.DecoderTokenizer is { } dt ? TokenizerLoader.FromFolder(dt) : TrainDecoderTokenizer(texts, o.DecoderVocabulary);
            using var backend = new CpuBackend(o.Threads);
            using var encoder = BertTextEncoder.Load(encoderFolder, backend, o.Batch);

            var chunker = new DocumentChunker(decoder, new ChunkingOptions());
            var chunkTexts = new List<string>();
            foreach (string t in texts) foreach (var c in chunker.Chunk("d", null, t, new Dictionary<string, string>())) chunkTexts.Add(c.Text);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ingest: {texts.Count} documents, {chunkTexts.Count} chunks of 64 decoder tokens (decoder vocab {decoder.VocabularySize}); " +
                $"encoder {Path.GetFileName(encoderFolder)} d={encoder.Dimension}, batch {o.Batch}, {backend.Threads} threads; store M=16 efC=200, {o.BuildThreads} build thread(s), {o.Parallelism} tokenizer worker(s)"));

            // Warm-up: JIT and first-touch of the weights, for both measurements alike, and unmeasured pipeline runs
            // (--warmup-runs, default 1: its tokenizer, store and graph code is JIT-compiled in the first run
            // otherwise: run 1 was the slowest end to end in every earlier report). The JIT time of every measured
            // run is printed: ~50–230 ms still, the first measured run the most, with one warm-up run or two alike.
            encoder.Encode(chunkTexts.Take(o.Batch).ToArray(), new float[o.Batch * encoder.Dimension]);
            for (int w = 0; w < o.WarmupRuns; w++) EndToEnd(shard, Path.Combine(root, $"warmup{w}"), decoder, encoder, o);

            var ours = new List<double>();
            var peer = new List<double>();
            for (int run = 0; run < o.Runs; run++)
            {
                double p = EmbedOnly(encoder, chunkTexts, o.Batch);
                peer.Add(p);
                var (seconds, chunks) = EndToEnd(shard, Path.Combine(root, $"store{run}"), decoder, encoder, o);
                if (chunks != chunkTexts.Count) throw new InvalidOperationException($"pipeline stored {chunks} chunks, expected {chunkTexts.Count}");
                ours.Add(seconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run {run + 1}: end to end {seconds:F2} s ({chunks / seconds:F1} chunks/s), embedding only {p:F2} s ({chunkTexts.Count / p:F1} chunks/s)"));
            }
            double ourRate = chunkTexts.Count / Median(ours);
            double peerRate = chunkTexts.Count / Median(peer);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ingest: ours={ourRate:F1} peer={peerRate:F1} ratio={ourRate / peerRate:F2}"));
            return 0;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static (double Seconds, long Chunks) EndToEnd(string shard, string storePath, ITokenizer decoder, ITextEncoder encoder, Options o)
    {
        // Time inside the bi-encoder and the store, from the pipeline's own histograms.
        double embedMs = 0, upsertMs = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == IndexerMetrics.MeterName) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "retro.indexer.embed.duration") embedMs += value;
            else if (instrument.Name == "retro.indexer.upsert.duration") upsertMs += value;
        });
        listener.Start();
        var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
        var sw = Stopwatch.StartNew();
        long chunks = Task.Run(async () =>
        {
            await using var store = new EmbeddedVectorStore(storePath, new EmbeddedStoreOptions { BuildThreads = o.BuildThreads });
            await store.EnsureCollectionAsync(new VectorStoreOptions().ToSpec(encoder.Dimension));
            using var ingestor = new Ingestor(store, encoder, decoder, new ChunkingOptions(), Path.Combine(storePath, "retro", "indexer"),
                new IngestOptions { BatchSize = o.Batch, Parallelism = o.Parallelism });
            var stats = await ingestor.RunAsync([Shard.For(shard)]);
            return stats.Chunks;
        }).GetAwaiter().GetResult();
        double seconds = sw.Elapsed.TotalSeconds;
        double jitMs = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  inside the pipeline: embedding {embedMs / 1000:F2} s, store upserts {upsertMs / 1000:F2} s (overlapped with embedding); JIT {jitMs:F0} ms during the run"));
        return (seconds, chunks);
    }

    private static double EmbedOnly(ITextEncoder encoder, List<string> texts, int batch)
    {
        var destination = new float[batch * encoder.Dimension];
        var sw = Stopwatch.StartNew();
        for (int start = 0; start < texts.Count; start += batch)
        {
            int n = Math.Min(batch, texts.Count - start);
            encoder.Encode(texts.GetRange(start, n).ToArray(), destination.AsSpan(0, n * encoder.Dimension));
        }
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>The first <paramref name="count"/> records of the sample as a plain shard; returns their texts.</summary>
    private static List<string> WriteShard(string sample, string shard, int count)
    {
        var texts = new List<string>(count);
        using var input = new StreamReader(new GZipStream(File.OpenRead(sample), CompressionMode.Decompress), Encoding.UTF8);
        using var output = new StreamWriter(shard, false, new UTF8Encoding(false));
        string? line;
        while (texts.Count < count && (line = input.ReadLine()) is not null)
        {
            output.Write(line);
            output.Write('\n');
            using var json = JsonDocument.Parse(line);
            texts.Add(json.RootElement.GetProperty("text").GetString()!);
        }
        return texts;
    }

    /// <summary>A byte-level BPE trained on the benchmark documents: chunks of realistic length (a 64-token chunk of
    /// the fixture's 510-symbol BPE holds only ~100 characters).</summary>
    private static Tokenizer TrainDecoderTokenizer(List<string> texts, int vocabulary)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabularySize = vocabulary, MinFrequency = 2 });
        trainer.Feed(texts);
        return trainer.Train();
    }

    /// <summary>
    /// A random-weight 6-layer d=384 BERT (the shipped encoder's shape) with a WordPiece vocabulary of the 30,522 most
    /// useful pieces of the benchmark documents (every character, "##" + every character, then the most frequent
    /// words), so that texts tokenize to realistic lengths.
    /// </summary>
    private static string WriteRandomEncoder(string folder, List<string> texts)
    {
        EmbedModelWriter.Write(folder, layers: 6, hidden: 384, heads: 12, ffn: 1536, positions: 512, DType.F32, seed: 1);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var chars = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string text in texts)
        {
            foreach (string word in BertWords(text))
            {
                counts[word] = counts.GetValueOrDefault(word) + 1;
                foreach (char c in word) chars.Add(c.ToString());
            }
        }
        var vocab = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        var seen = new HashSet<string>(vocab, StringComparer.Ordinal);
        void Add(string piece) { if (vocab.Count < EmbedModelWriter.Vocab && seen.Add(piece)) vocab.Add(piece); }
        foreach (string c in chars) Add(c);
        foreach (string c in chars) Add("##" + c);
        foreach (var (word, _) in counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)) Add(word);
        for (int i = 0; vocab.Count < EmbedModelWriter.Vocab; i++) Add($"[unused{i}]");

        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "tests", "fixtures", "bert-tiny", "tokenizer.json")))!;
        var map = new JsonObject();
        for (int i = 0; i < vocab.Count; i++) map[vocab[i]] = i;
        tokenizer["model"]!["vocab"] = map;
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), tokenizer.ToJsonString());
        return folder;
    }

    /// <summary>Lower-cased words and single punctuation marks, as BERT's normalizer and pre-tokenizer split text.</summary>
    private static IEnumerable<string> BertWords(string text)
    {
        var word = new StringBuilder();
        foreach (char raw in text)
        {
            char c = char.ToLowerInvariant(raw);
            if (char.IsLetterOrDigit(c)) { word.Append(c); continue; }
            if (word.Length > 0) { yield return word.ToString(); word.Clear(); }
            if (!char.IsWhiteSpace(c) && !char.IsControl(c)) yield return c.ToString();
        }
        if (word.Length > 0) yield return word.ToString();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        throw new InvalidOperationException("no Retro.sln above the benchmark binaries");
    }

    private sealed record Options(string? Encoder, string? DecoderTokenizer, int Documents, int Batch, int Parallelism, int Threads, int Runs, int DecoderVocabulary, int BuildThreads,
        int WarmupRuns)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(null, null, 400, 32, IngestOptions.DefaultParallelism, 0, 3, 8192, 1, 1);
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                string Text() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
                int Next() => int.Parse(Text(), CultureInfo.InvariantCulture);
                o = a switch
                {
                    "--encoder" => o with { Encoder = Text() },
                    "--decoder-tokenizer" => o with { DecoderTokenizer = Text() },
                    "--docs" => o with { Documents = Next() },
                    "--batch" => o with { Batch = Next() },
                    "--parallelism" => o with { Parallelism = Next() },
                    "--threads" => o with { Threads = Next() },
                    "--runs" => o with { Runs = Next() },
                    "--decoder-vocab" => o with { DecoderVocabulary = Next() },
                    "--build-threads" => o with { BuildThreads = Next() },
                    "--warmup-runs" => o with { WarmupRuns = Next() },
                    _ => throw new ArgumentException($"unknown option {a} (--encoder DIR --decoder-tokenizer DIR --docs N --batch N --parallelism N --threads N --runs N --decoder-vocab N --build-threads N --warmup-runs N)"),
                };
            }
            return o;
        }
    }
}
