using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Retro.Tokenizers;
using Retro.Tokenizers.Tests;
using Retro.Tokenizers.Training;

namespace Retro.Benchmarks.Tokenizers;

/// <summary>
/// Tokenizer benchmark: BPE training on a corpus of real text (../shared/data repeated in seeded shuffled passes up
/// to --mb MB), then encoding throughput and the GPT-2 pre-tokenizer (hand-written scanner vs .NET Regex), then the
/// peer: Microsoft.ML.Tokenizers built from the same vocabulary and merges (<see cref="MLTokenizers"/>) against our
/// encoder on the same documents, ids compared, for the shipped byte-level BPE (<c>--tokenizer</c>, default
/// models/retro/tokenizer.json) and for WordPiece (a vocabulary derived from it, BERT's rules).
/// <c>--extra DIR[,DIR]</c> adds every file under those folders (gzip/dictzip decompressed, split at blank lines into
/// ~8 KB documents), e.g. /usr/share/dictd,/usr/share/man for ~100 MB of distinct text instead of repeats.
/// Usage: <c>tokenizer [--mb 100] [--vocab 16384] [--threads 2] [--data DIR] [--extra DIRS] [--out tokenizer.json] [--tokenizer tokenizer.json] [--reps 5]</c>.
/// Dumps for the Python reference checks beside this file (documents of the data folder, one JSON line each):
/// <c>tokenizer dump-docs OUT.jsonl</c>, <c>tokenizer dump-pieces TOKENIZER OUT.jsonl</c> (GPT-2 pre-tokens and our
/// ids) and <c>tokenizer dump-ids TOKENIZER OUT.jsonl</c> (our ids); TOKENIZER is a tokenizer.json or vocab.txt.
/// </summary>
public static partial class TokenizerBenchmark
{
    [GeneratedRegex(Gpt2PreTokenizer.Pattern)]
    private static partial Regex Gpt2Regex();

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0].StartsWith("dump-", StringComparison.Ordinal)) return Dump(args);
        double mb = Option(args, "--mb", 100.0);
        int vocab = (int)Option(args, "--vocab", 16384.0);
        int threads = (int)Option(args, "--threads", Environment.ProcessorCount);
        string data = OptionString(args, "--data") ?? FindData();
        string? output = OptionString(args, "--out");

        var docs = LoadDocuments(data);
        long baseBytes = docs.Sum(d => (long)Encoding.UTF8.GetByteCount(d));
        Console.WriteLine($"base corpus: {docs.Count:N0} documents, {baseBytes / 1e6:F1} MB from {data}");
        var corpus = new List<string>(docs);
        if (OptionString(args, "--extra") is { } extra)
        {
            long target = (long)(mb * 1e6), total = baseBytes;
            foreach (string dir in extra.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                foreach (string doc in ExtraDocuments(dir))
                {
                    if (total >= target) break;
                    corpus.Add(doc);
                    total += Encoding.UTF8.GetByteCount(doc);
                }
            }
            Console.WriteLine($"with --extra {extra}: {corpus.Count:N0} distinct documents, {total / 1e6:F1} MB");
        }

        // ---- training -------------------------------------------------------------------------------------------
        // Wall time and this process's CPU time (the host is shared: CPU time shows the work without waiting).
        var process = Process.GetCurrentProcess();
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabularySize = vocab, MaxDegreeOfParallelism = threads });
        var cpu0 = process.TotalProcessorTime;
        trainer.Feed(Repeat(corpus, (long)(mb * 1e6)));
        process.Refresh();
        var cpu1 = process.TotalProcessorTime;
        var tokenizer = trainer.Train();
        process.Refresh();
        var cpu2 = process.TotalProcessorTime;
        var s = trainer.Stats;
        Console.WriteLine($"word counting: {s.Utf8Bytes / 1e6:F1} MB, {s.Documents:N0} docs, {s.UniqueWords:N0} unique words, " +
                          $"wall {s.CountingSeconds:F1} s = {s.Utf8Bytes / 1e6 / s.CountingSeconds:F1} MB/s ({threads} threads), " +
                          $"CPU {(cpu1 - cpu0).TotalSeconds:F1} s = {s.Utf8Bytes / 1e6 / (cpu1 - cpu0).TotalSeconds:F1} MB/s per core");
        Console.WriteLine($"merge phase: {s.Merges:N0} merges (vocab {tokenizer.VocabularySize:N0}), wall {s.MergeSeconds:F1} s, CPU {(cpu2 - cpu1).TotalSeconds:F1} s (single thread)");
        if (output is not null)
        {
            tokenizer.Save(output);
            Console.WriteLine($"wrote {output}");
        }

        // ---- encoding -------------------------------------------------------------------------------------------
        // Pass 0 warms the JIT on a throw-away copy; pass 1 runs a fresh copy (empty word cache); passes 2-3 reuse it.
        var encodeTimes = new List<double>();
        long tokens = 0;
        var cold = TokenizerLoader.FromJson(tokenizer.ToJson());
        for (int rep = 0; rep < 4; rep++)
        {
            var t = rep == 0 ? TokenizerLoader.FromJson(tokenizer.ToJson()) : cold;
            process.Refresh();
            var before = process.TotalProcessorTime;
            tokens = 0;
            foreach (string d in docs) tokens += t.Encode(d).Length;
            process.Refresh();
            encodeTimes.Add((process.TotalProcessorTime - before).TotalSeconds);
        }
        Console.WriteLine($"encode (CPU time, single thread): {tokens:N0} tokens ({baseBytes / (double)tokens:F2} bytes/token); " +
                          $"cold word cache {baseBytes / 1e6 / encodeTimes[1]:F1} MB/s, warm {baseBytes / 1e6 / Math.Min(encodeTimes[2], encodeTimes[3]):F1} MB/s");

        // ---- pre-tokenizer: scanner vs regex ---------------------------------------------------------------------
        double scanner = Median(5, () =>
        {
            long n = 0;
            foreach (string d in docs)
            {
                ReadOnlySpan<char> span = d;
                for (int i = 0; i < span.Length; i += Gpt2PreTokenizer.MatchLength(span, i)) n++;
            }
            return n;
        });
        double regex = Median(3, () =>
        {
            long n = 0;
            var re = Gpt2Regex();
            foreach (string d in docs) foreach (var _ in re.EnumerateMatches(d)) n++;
            return n;
        });
        double chars = docs.Sum(d => (double)d.Length);
        Console.WriteLine($"pre-tokenizer (CPU time, median): scanner {chars / 1e6 / scanner:F1} M chars/s, source-generated Regex {chars / 1e6 / regex:F1} M chars/s");
        Console.WriteLine($"tokenizer train: {s.Utf8Bytes / 1e6:F0} MB vocab {tokenizer.VocabularySize} wall {s.CountingSeconds + s.MergeSeconds:F1} s CPU {(cpu2 - cpu0).TotalSeconds:F1} s; " +
                          $"encode warm {baseBytes / 1e6 / Math.Min(encodeTimes[2], encodeTimes[3]):F1} MB/s; scanner/regex {regex / scanner:F2}x");

        // ---- peer: Microsoft.ML.Tokenizers on the same vocabulary and merges --------------------------------------
        int reps = (int)Option(args, "--reps", 5.0);
        string shipped = OptionString(args, "--tokenizer") ?? Path.Combine(FindRepoRoot(), "models", "retro", "tokenizer.json");
        var bpe = TokenizerLoader.FromFile(shipped);
        var wordPiece = Tokenizer.CreateWordPiece(DerivedWordPiece.Vocabulary(bpe));
        Compare("BPE trained above", cold, docs, baseBytes, reps);
        Compare($"WordPiece ({wordPiece.VocabularySize:N0} pieces derived from it)", wordPiece, docs, baseBytes, reps);
        var peer = Compare($"BPE {Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(shipped)))}/tokenizer.json", bpe, docs, baseBytes, reps);
        Console.WriteLine("(MB/s of UTF-8 text, CPU time of one thread, median of the interleaved repetitions; ratio = ours / peer.)");
        Console.WriteLine($"tokenizer: ours={peer.Ours:F1} peer={peer.Peer:F1} ratio={peer.Ours / peer.Peer:F2} " +
                          $"(MB/s, byte-level BPE encode, Microsoft.ML.Tokenizers {LibraryVersion()} as peer, " +
                          $"equal ids on {peer.Equal}/{docs.Count} documents)");
        return 0;
    }

    /// <summary>
    /// Our encoder and its Microsoft.ML.Tokenizers twin on <paramref name="docs"/>: documents with equal ids (a first,
    /// unmeasured pass that also warms both up), then <paramref name="reps"/> interleaved timed passes of each.
    /// </summary>
    private static (double Ours, double Peer, int Equal) Compare(string what, Tokenizer ours, List<string> docs, long bytes, int reps)
    {
        var library = MLTokenizers.Create(ours);
        int equal = 0;
        foreach (string d in docs)
        {
            if (ours.Encode(d).AsSpan().SequenceEqual(library.EncodeToIds(d).ToArray())) equal++;
        }
        var oursTimes = new List<double>();
        var peerTimes = new List<double>();
        for (int rep = 0; rep < reps; rep++)
        {
            oursTimes.Add(CpuSeconds(() => { long n = 0; foreach (string d in docs) n += ours.Encode(d).Length; return n; }));
            peerTimes.Add(CpuSeconds(() => { long n = 0; foreach (string d in docs) n += library.EncodeToIds(d).Count; return n; }));
        }
        oursTimes.Sort();
        peerTimes.Sort();
        double o = bytes / 1e6 / oursTimes[reps / 2], p = bytes / 1e6 / peerTimes[reps / 2];
        Console.WriteLine($"peer, {what}: ours {o:F1} MB/s (range {bytes / 1e6 / oursTimes[^1]:F1}-{bytes / 1e6 / oursTimes[0]:F1}), " +
                          $"Microsoft.ML.Tokenizers {p:F1} MB/s (range {bytes / 1e6 / peerTimes[^1]:F1}-{bytes / 1e6 / peerTimes[0]:F1}), ratio {o / p:F2}; " +
                          $"equal ids on {equal}/{docs.Count} documents");
        return (o, p, equal);
    }

    private static string LibraryVersion()
    {
        var attribute = typeof(Microsoft.ML.Tokenizers.BpeTokenizer).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false);
        string version = attribute.Length > 0 ? ((System.Reflection.AssemblyInformationalVersionAttribute)attribute[0]).InformationalVersion : "?";
        int plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }

    private static double CpuSeconds(Func<long> work)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var before = process.TotalProcessorTime;
        GC.KeepAlive(work());
        process.Refresh();
        return (process.TotalProcessorTime - before).TotalSeconds;
    }

    private static int Dump(string[] args)
    {
        string data = OptionString(args, "--data") ?? FindData();
        var docs = LoadDocuments(data);
        using var output = new StreamWriter(args[^1]);
        switch (args[0])
        {
            case "dump-docs":
                foreach (string d in docs) output.WriteLine(JsonSerializer.Serialize(d));
                break;
            case "dump-pieces":
            case "dump-ids":
                var tokenizer = TokenizerLoader.FromFile(args[1]);
                var splits = new List<(int Start, int Length)>();
                foreach (string d in docs)
                {
                    if (args[0] == "dump-ids")
                    {
                        output.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(d)));
                        continue;
                    }
                    splits.Clear();
                    Gpt2PreTokenizer.Split(d, splits);
                    var pieces = splits.Select(x => d.Substring(x.Start, x.Length)).ToArray();
                    output.WriteLine(JsonSerializer.Serialize(new { pieces, ids = tokenizer.Encode(d) }));
                }
                break;
            default:
                Console.Error.WriteLine($"unknown dump '{args[0]}'");
                return 2;
        }
        Console.WriteLine($"wrote {docs.Count} documents to {args[^1]}");
        return 0;
    }

    // Median CPU time of `runs` runs (single-threaded work).
    private static double Median(int runs, Func<long> work)
    {
        var times = new List<double>();
        for (int i = 0; i < runs; i++) times.Add(CpuSeconds(work));
        times.Sort();
        return times[times.Count / 2];
    }

    // Seeded shuffled passes over the documents until `bytes` UTF-8 bytes were yielded.
    private static IEnumerable<string> Repeat(IReadOnlyList<string> docs, long bytes)
    {
        var random = new Random(1234);
        var order = Enumerable.Range(0, docs.Count).ToArray();
        long yielded = 0;
        while (true)
        {
            random.Shuffle(order);
            foreach (int i in order)
            {
                yield return docs[i];
                yielded += Encoding.UTF8.GetByteCount(docs[i]);
                if (yielded >= bytes) yield break;
            }
        }
    }

    private static List<string> LoadDocuments(string root)
    {
        var docs = new List<string>();
        foreach (string path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path);
            if (name.EndsWith(".jsonl", StringComparison.Ordinal) || name.EndsWith(".jsonl.gz", StringComparison.Ordinal) || name.EndsWith(".json.gz", StringComparison.Ordinal))
                docs.AddRange(CorpusReader.ReadDocuments(path));
            else if (name == "dev-v2.0.json")
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
                foreach (var article in doc.RootElement.GetProperty("data").EnumerateArray())
                foreach (var paragraph in article.GetProperty("paragraphs").EnumerateArray())
                    docs.Add(paragraph.GetProperty("context").GetString()!);
            }
            else if (name.EndsWith(".raw", StringComparison.Ordinal))
                docs.AddRange(File.ReadAllText(path).Split("\n \n"));
        }
        return docs;
    }

    private static IEnumerable<string> ExtraDocuments(string root)
    {
        foreach (string path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string text;
            try
            {
                using Stream file = File.OpenRead(path);
                using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) || path.EndsWith(".dz", StringComparison.Ordinal)
                    ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress) : file;
                using var reader = new StreamReader(stream);
                text = reader.ReadToEnd();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                continue; // unreadable or not gzip after all: not text for this benchmark
            }
            var doc = new StringBuilder();
            foreach (string paragraph in text.Split("\n\n"))
            {
                doc.Append(paragraph).Append("\n\n");
                if (doc.Length < 8192) continue;
                yield return doc.ToString();
                doc.Clear();
            }
            if (doc.Length > 0) yield return doc.ToString();
        }
    }

    private static string FindRepoRoot()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("Retro.sln not found; pass --tokenizer PATH.");
    }

    private static string FindData()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(candidate)) return candidate;
            }
        }
        throw new DirectoryNotFoundException("../shared/data not found; pass --data DIR.");
    }

    private static double Option(string[] args, string name, double fallback) =>
        OptionString(args, name) is { } v ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    private static string? OptionString(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
