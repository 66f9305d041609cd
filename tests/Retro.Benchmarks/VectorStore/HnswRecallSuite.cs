using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Bert;
using Retro.Engine.Cpu;
using Retro.Ingestion.Chunking;
using Retro.Tokenizers;
using Retro.VectorStore.Hnsw;
using Retro.VectorStore.Vectors;

namespace Retro.Benchmarks.VectorStore;

/// <summary>
/// <c>hnsw-recall</c>: recall@10 of the embedded store's HNSW on real embeddings, float32 walk against the int8 walk with
/// float32 rescoring over the same graph, per ef. Keys: the retrieval texts (title + chunk) of the first documents of the
/// shipped sample and of every SQuAD dev paragraph, chunked with the decoder's tokenizer and embedded with the shipped
/// bi-encoder, as the indexer does. Queries: SQuAD dev questions, and chunks of sample documents not in the index.
/// Truth: exact top-10 by brute force. Ends with <c>hnsw-recall: ours=&lt;int8 recall&gt; peer=&lt;float recall&gt;
/// ratio=…</c> at the product's default ef over both query sets. Not timed.
/// </summary>
public sealed class HnswRecallSuite : ISuite
{
    private const int K = 10;

    public string Name => "hnsw-recall";

    public string Description => "HNSW recall@10 on real embeddings (sample corpus + SQuAD dev, models/encoder): int8+rescore vs float32 per ef (--docs 4000 --questions 2000 --held-out 1000)";

    public int Run(string[] args)
    {
        int docs = IntOption(args, "--docs", 4000);
        int questions = IntOption(args, "--questions", 2000);
        int heldOut = IntOption(args, "--held-out", 1000);
        string repo = RepoRoot();
        string squadPath = Path.Combine(repo, "..", "shared", "data", "squad-v2.0-dev-cs224n", "dev-v2.0.json");
        if (!File.Exists(squadPath)) throw new FileNotFoundException("SQuAD dev set not found (../shared/data/squad-v2.0-dev-cs224n)", squadPath);
        var options = new VectorStoreOptions();

        var sw = Stopwatch.StartNew();
        var tokenizer = TokenizerLoader.FromFolder(Path.Combine(repo, "models", "retro"));
        var chunker = new DocumentChunker(tokenizer, new ChunkingOptions());
        var keys = new List<string>();
        var heldOutQueries = new List<string>();
        // The sample is a dictionary in alphabetical order: documents are taken with a stride so that keys and
        // held-out queries span all of it (document i is a key when i mod stride = 0, held out when it is 1).
        string samplePath = Path.Combine(repo, "samples", "corpus", "sample.jsonl.gz");
        int stride = Math.Max(2, SampleDocuments(samplePath).Count() / Math.Max(1, docs));
        int docIndex = 0, keyDocs = 0;
        foreach (var (text, meta) in SampleDocuments(samplePath))
        {
            int slot = docIndex % stride;
            var target = slot == 0 && keyDocs < docs ? keys : slot == 1 && heldOutQueries.Count < heldOut ? heldOutQueries : null;
            if (target is not null)
            {
                if (slot == 0) keyDocs++;
                foreach (var c in chunker.Chunk($"s{docIndex}", null, text, meta)) target.Add(c.RetrievalText());
            }
            docIndex++;
        }
        if (heldOutQueries.Count > heldOut) heldOutQueries.RemoveRange(heldOut, heldOutQueries.Count - heldOut);
        var (paragraphs, squadQuestions) = Squad(squadPath, questions);
        int squadIndex = 0;
        foreach (var (title, text) in paragraphs)
        {
            var meta = new Dictionary<string, string> { ["title"] = title };
            foreach (var c in chunker.Chunk($"q{squadIndex++}", null, text, meta)) keys.Add(c.RetrievalText());
        }
        Console.WriteLine($"hnsw-recall: {keys.Count} keys ({keyDocs} sample documents (every {stride}th) + {paragraphs.Count} SQuAD dev paragraphs), " +
                          $"{squadQuestions.Count} SQuAD questions, {heldOutQueries.Count} held-out sample chunks; chunked in {sw.Elapsed.TotalSeconds:F1} s");

        using var backend = new CpuBackend(0);
        using var encoder = BertTextEncoder.Load(Path.Combine(repo, "models", "encoder"), backend, 32);
        int dim = encoder.Dimension;
        sw.Restart();
        float[] keyVectors = Embed(encoder, keys);
        float[] squadVectors = Embed(encoder, squadQuestions);
        float[] heldOutVectors = Embed(encoder, heldOutQueries);
        Console.WriteLine($"embedded with models/encoder (d={dim}) in {sw.Elapsed.TotalSeconds:F1} s");

        string dir = Directory.CreateTempSubdirectory("retro-hnsw-recall-").FullName;
        try
        {
            using var vectors = VectorStorage.OpenFile(Path.Combine(dir, "vectors.bin"), dim, out _);
            int n = keys.Count;
            vectors.EnsureCapacity(n);
            for (int i = 0; i < n; i++) vectors.Write((uint)i, keyVectors.AsSpan(i * dim, dim));
            var graph = new HnswGraph(options.M, options.EfConstruction);
            var floatIndex = new HnswIndex(vectors, graph, DistanceMetric.Cosine, quantize: false);
            sw.Restart();
            floatIndex.Add(0, (uint)n, threads: 2);
            var int8Index = new HnswIndex(vectors, graph, DistanceMetric.Cosine, quantize: true);
            int8Index.Add((uint)n, (uint)n, threads: 2); // codes only: the graph is shared
            Console.WriteLine($"graph (M {options.M}, efConstruction {options.EfConstruction}) built in {sw.Elapsed.TotalSeconds:F1} s; product default ef {options.Ef}, quantization {options.Quantization}");

            int[] efs = [10, 16, 20, 24, 32, 40, 48, 64, 128];
            double ours = 0, peer = 0;
            foreach (var (name, queries) in new[] { ("SQuAD questions", squadVectors), ("held-out sample chunks", heldOutVectors) })
            {
                int nq = queries.Length / dim;
                int[] truth = ClusteredData.ExactNeighbours(keyVectors, queries, dim, K);
                Console.WriteLine();
                Console.WriteLine($"{name} ({nq} queries): recall@{K}");
                Console.WriteLine("| ef | float32 | int8 + float rescoring |");
                Console.WriteLine("|---|---|---|");
                foreach (int ef in efs)
                {
                    double f = Recall(floatIndex, queries, truth, nq, dim, ef);
                    double q = Recall(int8Index, queries, truth, nq, dim, ef);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {ef}{(ef == options.Ef ? " (default)" : "")} | {f:F4} | {q:F4} |"));
                    if (ef == options.Ef) { ours += q * nq; peer += f * nq; }
                }
            }
            int total = (squadVectors.Length + heldOutVectors.Length) / dim;
            ours /= total;
            peer /= total;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"hnsw-recall: ours={ours:F4} peer={peer:F4} ratio={ours / peer:F4} (recall@{K} at ef {options.Ef}, int8 + float rescoring vs float32, both query sets)"));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static float[] Embed(BertTextEncoder encoder, List<string> texts)
    {
        int dim = encoder.Dimension;
        var result = new float[texts.Count * dim];
        for (int start = 0; start < texts.Count; start += 32)
        {
            int n = Math.Min(32, texts.Count - start);
            encoder.Encode(texts.GetRange(start, n).ToArray(), result.AsSpan(start * dim, n * dim));
        }
        return result;
    }

    private static double Recall(HnswIndex index, float[] queries, int[] truth, int nq, int dim, int ef)
    {
        var hits = new Candidate[K];
        long found = 0;
        for (int q = 0; q < nq; q++)
        {
            int n = index.Search(queries.AsSpan(q * dim, dim), K, ef, null, hits);
            var expected = truth.AsSpan(q * K, K);
            for (int i = 0; i < n; i++) if (expected.Contains((int)hits[i].Node)) found++;
        }
        return found / (double)(nq * K);
    }

    private static IEnumerable<(string Text, Dictionary<string, string> Meta)> SampleDocuments(string path)
    {
        using var input = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress), Encoding.UTF8);
        string? line;
        while ((line = input.ReadLine()) is not null)
        {
            using var json = JsonDocument.Parse(line);
            var meta = new Dictionary<string, string>();
            foreach (var p in json.RootElement.EnumerateObject())
                if (p.Name != "text" && p.Value.ValueKind == JsonValueKind.String) meta[p.Name] = p.Value.GetString()!;
            yield return (json.RootElement.GetProperty("text").GetString()!, meta);
        }
    }

    /// <summary>Every paragraph (with its article title) and <paramref name="maxQuestions"/> questions spread over all articles.</summary>
    private static (List<(string Title, string Text)> Paragraphs, List<string> Questions) Squad(string path, int maxQuestions)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        var paragraphs = new List<(string, string)>();
        var questions = new List<string>();
        foreach (var article in json.RootElement.GetProperty("data").EnumerateArray())
        {
            string title = article.GetProperty("title").GetString()!.Replace('_', ' ');
            foreach (var p in article.GetProperty("paragraphs").EnumerateArray())
            {
                paragraphs.Add((title, p.GetProperty("context").GetString()!));
                foreach (var qa in p.GetProperty("qas").EnumerateArray()) questions.Add(qa.GetProperty("question").GetString()!);
            }
        }
        if (questions.Count <= maxQuestions) return (paragraphs, questions);
        var spread = new List<string>(maxQuestions);
        for (int i = 0; i < maxQuestions; i++) spread.Add(questions[(int)((long)i * questions.Count / maxQuestions)]);
        return (paragraphs, spread);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        throw new InvalidOperationException("no Retro.sln above the benchmark binaries");
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
