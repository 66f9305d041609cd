using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Retro.Tokenizers.Training;

/// <summary>
/// Trains a byte-level BPE tokenizer (GPT-2 style, the same algorithm as Hugging Face's <c>BpeTrainer</c>): documents
/// are pre-tokenized with the GPT-2 pattern and word frequencies counted in parallel (streaming, <see cref="Feed"/>
/// may be called many times); then pairs of byte symbols are merged most frequent first, with pair counts updated
/// incrementally from a pair → words index and a lazy max-heap. Ties go to the smaller (left id, right id) pair, so
/// runs are deterministic. Special tokens get ids 0.., then the 256 byte characters in code-point order, then merges.
/// Not thread-safe.
/// </summary>
public sealed class BpeTrainer
{
    private const int BatchChars = 1 << 20;

    private readonly BpeTrainerOptions _options;
    private readonly Dictionary<string, long> _words = new(StringComparer.Ordinal);
    private long _documents, _bytes;
    private double _countingSeconds;

    /// <summary>Creates a trainer; <paramref name="options"/> are validated here.</summary>
    /// <exception cref="ArgumentException">The vocabulary cannot hold the specials and bytes, or a special token is empty or repeated.</exception>
    public BpeTrainer(BpeTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.SpecialTokens.Any(string.IsNullOrEmpty)) throw new ArgumentException("Special tokens must be non-empty.", nameof(options));
        if (options.SpecialTokens.Distinct(StringComparer.Ordinal).Count() != options.SpecialTokens.Count) throw new ArgumentException("Special tokens must be distinct.", nameof(options));
        if (options.VocabularySize < 256 + options.SpecialTokens.Count)
            throw new ArgumentException($"VocabularySize must be at least 256 + {options.SpecialTokens.Count} special tokens.", nameof(options));
        if (options.MinFrequency < 1) throw new ArgumentException("MinFrequency must be at least 1.", nameof(options));
        if (options.MaxDegreeOfParallelism < 1) throw new ArgumentException("MaxDegreeOfParallelism must be at least 1.", nameof(options));
        _options = options;
    }

    /// <summary>Counters of the run so far (merge fields are filled by <see cref="Train"/>).</summary>
    public BpeTrainingStats Stats { get; private set; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>Pre-tokenizes and counts the words of <paramref name="documents"/>, streaming, in parallel batches.</summary>
    public void Feed(IEnumerable<string> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var clock = Stopwatch.StartNew();
        var merged = new object();
        Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(Batches(documents), EnumerablePartitionerOptions.NoBuffering),
            new ParallelOptions { MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism },
            () => new Counter(),
            (batch, _, counter) =>
            {
                foreach (string doc in batch) counter.Add(doc, _options);
                return counter;
            },
            counter =>
            {
                lock (merged)
                {
                    foreach (var (word, count) in counter.Words)
                    {
                        ref long slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_words, word, out _);
                        slot += count;
                    }
                    _documents += counter.Documents;
                    _bytes += counter.Bytes;
                }
            });
        _countingSeconds += clock.Elapsed.TotalSeconds;
        Stats = Stats with { Documents = _documents, Utf8Bytes = _bytes, UniqueWords = _words.Count, CountingSeconds = _countingSeconds };
    }

    /// <summary>Feeds files: JSON lines (<c>.jsonl</c>, <c>.json</c>, optionally <c>.gz</c>) by their <c>text</c> field, other files line by line.</summary>
    public void FeedFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        foreach (string path in paths) Feed(CorpusReader.ReadDocuments(path));
    }

    /// <summary>Runs the merge phase over the counted words and returns the trained tokenizer.</summary>
    public Tokenizer Train()
    {
        var clock = Stopwatch.StartNew();
        var specials = _options.SpecialTokens;
        var tokens = new List<string>(_options.VocabularySize);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string s in specials) { vocab[s] = tokens.Count; tokens.Add(s); }
        var byteId = new int[256];
        foreach (char c in ByteLevelAlphabet.Characters.ToArray().Order())
        {
            string t = c.ToString();
            if (!vocab.ContainsKey(t)) { vocab[t] = tokens.Count; tokens.Add(t); }
            byteId[ByteLevelAlphabet.CharToByte(c)] = vocab[t];
        }

        // Words in ordinal order, as byte-symbol ids.
        var wordList = _words.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        var symbols = new int[wordList.Length][];
        var lengths = new int[wordList.Length];
        var counts = new long[wordList.Length];
        for (int w = 0; w < wordList.Length; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(wordList[w].Key);
            var s = new int[bytes.Length];
            for (int k = 0; k < bytes.Length; k++) s[k] = byteId[bytes[k]];
            symbols[w] = s;
            lengths[w] = s.Length;
            counts[w] = wordList[w].Value;
        }

        var pairCounts = new Dictionary<long, long>();
        var where = new Dictionary<long, HashSet<int>>();
        for (int w = 0; w < symbols.Length; w++)
        {
            var s = symbols[w];
            for (int k = 0; k + 1 < lengths[w]; k++)
            {
                long pair = Key(s[k], s[k + 1]);
                ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, pair, out _);
                c += counts[w];
                ref var set = ref CollectionsMarshal.GetValueRefOrAddDefault(where, pair, out bool exists);
                if (!exists) set = new HashSet<int>();
                set!.Add(w);
            }
        }
        var heap = new PriorityQueue<long, (long Count, long Pair)>(PairOrder.Instance);
        foreach (var (pair, count) in pairCounts) if (count > 0) heap.Enqueue(pair, (count, pair));

        var merges = new List<(string, string)>();
        var changes = new List<(long Pair, int Delta)>();
        var touched = new HashSet<long>();
        while (tokens.Count < _options.VocabularySize && heap.TryDequeue(out long top, out var priority))
        {
            long current = pairCounts.GetValueOrDefault(top);
            if (priority.Count != current)
            {
                if (current > 0) heap.Enqueue(top, (current, top));
                continue;
            }
            if (current < _options.MinFrequency) break;
            int a = (int)(top >> 32), b = (int)top;
            string merged = tokens[a] + tokens[b];
            if (!vocab.TryGetValue(merged, out int newId))
            {
                newId = tokens.Count;
                vocab[merged] = newId;
                tokens.Add(merged);
            }
            merges.Add((tokens[a], tokens[b]));
            touched.Clear();
            foreach (int w in where[top])
            {
                changes.Clear();
                lengths[w] = MergeWord(symbols[w], lengths[w], a, b, newId, changes);
                foreach (var (pair, delta) in changes)
                {
                    if (pair == top) continue;
                    ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, pair, out _);
                    c += delta * counts[w];
                    if (delta > 0)
                    {
                        ref var set = ref CollectionsMarshal.GetValueRefOrAddDefault(where, pair, out bool exists);
                        if (!exists) set = new HashSet<int>();
                        set!.Add(w);
                        touched.Add(pair);
                    }
                }
            }
            pairCounts.Remove(top);
            where.Remove(top);
            foreach (long pair in touched)
            {
                long c = pairCounts[pair];
                if (c > 0) heap.Enqueue(pair, (c, pair));
            }
        }

        var added = specials.Select((s, i) => new AddedToken(i, s)).ToList();
        var tokenizer = Tokenizer.CreateByteLevelBpe(vocab, merges, added, _options.AddPrefixSpace);
        Stats = Stats with { MergeSeconds = clock.Elapsed.TotalSeconds, Merges = merges.Count };
        return tokenizer;
    }

    /// <summary>Merges every (a, b) of symbols[0..length) left to right; reports pair count changes; returns the new length.</summary>
    internal static int MergeWord(int[] s, int length, int a, int b, int merged, List<(long Pair, int Delta)> changes)
    {
        int write = 0, read = 0;
        while (read < length)
        {
            if (read + 1 < length && s[read] == a && s[read + 1] == b)
            {
                if (write > 0)
                {
                    changes.Add((Key(s[write - 1], a), -1));
                    changes.Add((Key(s[write - 1], merged), 1));
                }
                if (read + 2 < length)
                {
                    changes.Add((Key(b, s[read + 2]), -1));
                    changes.Add((Key(merged, s[read + 2]), 1));
                }
                s[write++] = merged;
                read += 2;
            }
            else s[write++] = s[read++];
        }
        return write;
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    private static IEnumerable<List<string>> Batches(IEnumerable<string> documents)
    {
        var batch = new List<string>();
        long chars = 0;
        foreach (string doc in documents)
        {
            if (doc is null) continue;
            batch.Add(doc);
            chars += doc.Length;
            if (chars >= BatchChars)
            {
                yield return batch;
                batch = new List<string>();
                chars = 0;
            }
        }
        if (batch.Count > 0) yield return batch;
    }

    /// <summary>Max-heap order on count, then the smaller pair first.</summary>
    private sealed class PairOrder : IComparer<(long Count, long Pair)>
    {
        public static readonly PairOrder Instance = new();

        public int Compare((long Count, long Pair) x, (long Count, long Pair) y)
        {
            int byCount = y.Count.CompareTo(x.Count);
            return byCount != 0 ? byCount : x.Pair.CompareTo(y.Pair);
        }
    }

    /// <summary>Per-thread word counts of a run of batches.</summary>
    private sealed class Counter
    {
        private readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _lookup;

        public Counter() => _lookup = Words.GetAlternateLookup<ReadOnlySpan<char>>();

        public Dictionary<string, long> Words { get; } = new(StringComparer.Ordinal);
        public long Documents { get; private set; }
        public long Bytes { get; private set; }

        public void Add(string document, BpeTrainerOptions options)
        {
            Documents++;
            Bytes += Encoding.UTF8.GetByteCount(document);
            ReadOnlySpan<char> rest = document;
            while (!rest.IsEmpty)
            {
                int next = rest.Length, skip = 0;
                foreach (string special in options.SpecialTokens)
                {
                    int at = rest[..next].IndexOf(special, StringComparison.Ordinal);
                    if (at >= 0 && at < next) { next = at; skip = special.Length; }
                }
                CountWords(rest[..next], options.AddPrefixSpace);
                rest = rest[(next + skip)..];
            }
        }

        private void CountWords(ReadOnlySpan<char> text, bool addPrefixSpace)
        {
            if (text.IsEmpty) return;
            if (addPrefixSpace && text[0] != ' ')
            {
                // Same splits as the tokenizer, which prepends a space to each segment.
                var prefixed = string.Concat(" ", text);
                CountSplits(prefixed);
                return;
            }
            CountSplits(text);
        }

        private void CountSplits(ReadOnlySpan<char> text)
        {
            for (int i = 0; i < text.Length;)
            {
                int length = Gpt2PreTokenizer.MatchLength(text, i);
                ref long slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_lookup, text.Slice(i, length), out _);
                slot++;
                i += length;
            }
        }
    }
}
