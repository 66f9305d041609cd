using System.Text.Json;
using Retro.Tokenizers.Training;

namespace Retro.Tokenizers.Tests;

/// <summary>The development corpus in ../shared/data (read in place) and hand-made hostile strings.</summary>
internal static class TestData
{
    private static readonly Lazy<IReadOnlyList<string>> All = new(LoadAll);

    /// <summary>The data folder: $RETRO_DATA, else the first "shared/data" found walking up from the test binaries.</summary>
    public static string DataRoot
    {
        get
        {
            if (Environment.GetEnvironmentVariable("RETRO_DATA") is { Length: > 0 } env) return env;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(candidate)) return candidate;
            }
            throw new DirectoryNotFoundException("Development data not found: set RETRO_DATA or keep ../shared/data beside the repository.");
        }
    }

    /// <summary>Repository root (the folder holding Retro.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
            }
            throw new DirectoryNotFoundException("Retro.sln not found above the test binaries.");
        }
    }

    /// <summary>
    /// Every text of the data: each <c>text</c> of every JSON-lines file (plain and gzip), SQuAD titles, contexts,
    /// questions and answers, and WikiText (raw and tokenized) paragraph by paragraph.
    /// </summary>
    public static IReadOnlyList<string> AllTexts => All.Value;

    /// <summary>Strings that break naive tokenizers (all valid UTF-16).</summary>
    public static readonly string[] Hostile =
    [
        "",
        " ",
        "a",
        "Hello world",
        "😀",
        "I ❤️ emoji 🎉🎉🎉 and flags 🇫🇷🇯🇵",
        "family: 👩‍👩‍👧‍👦 and 👨🏽‍💻 (ZWJ sequences with skin tones)",
        "combining: e\u0301 a\u0308\u0323 n\u0303 Z\u0351\u0352\u0353\u0354",
        "precomposed: café naïve Ångström",
        "CJK: 你好，世界！日本語のテキスト。한국어 텍스트",
        "Arabic: مرحبا بالعالم — Hebrew: שלום עולם",
        "mixed RTL\u200Fmarks\u200E and bidi \u202Eoverride\u202C",
        "NUL\0inside\0\0text",
        "controls \u0001\u0007\u001B[31m red \u001B[0m",
        "tabs\tand\t\tnewlines\n\n\nand\r\nCRLF\r\n",
        "   leading and trailing spaces   ",
        "\n\n\n",
        "\u00A0non-breaking\u00A0space and\u2003em space and\u3000ideographic space",
        "contractions: I'm you're we've they'll he'd it's don't 'S 'LL",
        "numbers 12,345.678 1e-9 ½ ² Ⅻ ٣٤٥",
        "math 𝐀𝐁𝐂 𝟏𝟐𝟑 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 (supplementary letters)",
        "ancient 𐌰𐌱𐌲 and cuneiform 𒀀𒀁",
        "symbols ™ © ® € £ ¥ § ¶ • … ‰ ← → ↑ ↓ ∀ ∃ ∅",
        "zero width: a\u200Bb\u200Cc\u200Dd\uFEFFe",
        "replacement char \uFFFD and noncharacter \uFFFF",
        "private use \uE000\uF8FF and 󰀀",
        "<|endoftext|> special tokens [CLS] [SEP] [PAD] [MASK] <bos> <eos> in text",
        "URL https://example.com/path?query=1&b=2#frag and email a.b@c.de",
        "code: for (int i = 0; i < n; i++) { x += y[i]; }",
        new string(' ', 100) + "x" + new string('\n', 50),
        string.Concat(Enumerable.Repeat("ab", 500)),
        "Ǆ ǅ ǆ ﬁ ﬂ ß ẞ İ ı",
    ];

    private static IReadOnlyList<string> LoadAll()
    {
        string root = DataRoot;
        var texts = new List<string>();
        foreach (string path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(path);
            if (name.EndsWith(".jsonl", StringComparison.Ordinal) || name.EndsWith(".jsonl.gz", StringComparison.Ordinal) || name.EndsWith(".json.gz", StringComparison.Ordinal))
            {
                texts.AddRange(CorpusReader.ReadDocuments(path));
            }
            else if (name == "dev-v2.0.json")
            {
                AddSquad(path, texts);
            }
            else if (name.EndsWith(".raw", StringComparison.Ordinal) || (name.EndsWith(".txt", StringComparison.Ordinal) && path.Contains("wikitext", StringComparison.Ordinal)))
            {
                texts.AddRange(File.ReadAllText(path).Split("\n \n", StringSplitOptions.None));
            }
        }
        if (texts.Count < 1000) throw new InvalidOperationException($"Expected thousands of texts under {root}, found {texts.Count}.");
        return texts;
    }

    private static void AddSquad(string path, List<string> texts)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        foreach (var article in doc.RootElement.GetProperty("data").EnumerateArray())
        {
            texts.Add(article.GetProperty("title").GetString()!);
            foreach (var paragraph in article.GetProperty("paragraphs").EnumerateArray())
            {
                texts.Add(paragraph.GetProperty("context").GetString()!);
                foreach (var qa in paragraph.GetProperty("qas").EnumerateArray())
                {
                    texts.Add(qa.GetProperty("question").GetString()!);
                    foreach (var answer in qa.GetProperty("answers").EnumerateArray()) texts.Add(answer.GetProperty("text").GetString()!);
                }
            }
        }
    }
}

/// <summary>A byte-level BPE trained once by our trainer on a slice of the data (3,000 merges).</summary>
public sealed class TrainedTokenizerFixture
{
    public const int Merges = 3_000;
    public static readonly string[] Specials = ["<|endoftext|>", "<pad>"];

    public TrainedTokenizerFixture()
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabularySize = Specials.Length + 256 + Merges, SpecialTokens = Specials, MinFrequency = 2 });
        trainer.Feed(TrainingSlice());
        Tokenizer = trainer.Train();
        Stats = trainer.Stats;
    }

    public Tokenizer Tokenizer { get; }
    public BpeTrainingStats Stats { get; }

    /// <summary>The first ~1.5 MB of text of the C4 sample.</summary>
    public static IEnumerable<string> TrainingSlice()
    {
        long chars = 0;
        foreach (string text in CorpusReader.ReadDocuments(Path.Combine(TestData.DataRoot, "c4-en-sample", "c4_sample.jsonl")))
        {
            yield return text;
            chars += text.Length;
            if (chars > 1_500_000) yield break;
        }
    }
}
