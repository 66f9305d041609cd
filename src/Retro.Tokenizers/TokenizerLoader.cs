using System.Text.Json;
using Retro.Tokenizers.Pipeline;

namespace Retro.Tokenizers;

/// <summary>Loads tokenizers from Hugging Face <c>tokenizer.json</c>, BERT <c>vocab.txt</c> or GPT-2 <c>vocab.json</c> + <c>merges.txt</c>.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads the tokenizer of a model folder: <c>tokenizer.json</c> if present, else <c>vocab.txt</c> (BERT,
    /// lower-cased), else <c>vocab.json</c> + <c>merges.txt</c> (GPT-2).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder holds none of those files.</exception>
    /// <exception cref="TokenizerFormatException">The file is malformed or uses an unsupported component.</exception>
    public static Tokenizer FromFolder(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"Tokenizer folder '{path}' does not exist.");
        string json = Path.Combine(path, "tokenizer.json");
        if (File.Exists(json)) return FromFile(json);
        string vocabTxt = Path.Combine(path, "vocab.txt");
        if (File.Exists(vocabTxt)) return FromVocabTxt(vocabTxt);
        string vocabJson = Path.Combine(path, "vocab.json"), merges = Path.Combine(path, "merges.txt");
        if (File.Exists(vocabJson) && File.Exists(merges)) return FromGpt2Files(vocabJson, merges);
        throw new FileNotFoundException($"Folder '{path}' has no tokenizer.json, vocab.txt, or vocab.json with merges.txt.");
    }

    /// <summary>Loads <c>tokenizer.json</c>, or a <c>.txt</c> file as a BERT <c>vocab.txt</c>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TokenizerFormatException">The file is malformed or uses an unsupported component.</exception>
    public static Tokenizer FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        if (path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)) return FromVocabTxt(path);
        using var stream = File.OpenRead(path);
        return FromStream(stream, path);
    }

    /// <summary>Parses <c>tokenizer.json</c> content; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="TokenizerFormatException">The JSON is malformed or uses an unsupported component.</exception>
    public static Tokenizer FromJson(string json, string source = "tokenizer.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json);
            return TokenizerJson.Read(doc.RootElement, source);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new TokenizerFormatException($"{source}: not a valid tokenizer.json ({e.Message}).", e);
        }
    }

    /// <summary>Parses <c>tokenizer.json</c> from <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="TokenizerFormatException">The JSON is malformed or uses an unsupported component.</exception>
    public static Tokenizer FromStream(Stream stream, string source = "tokenizer.json")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new StreamReader(stream);
        return FromJson(reader.ReadToEnd(), source);
    }

    /// <summary>BERT <c>vocab.txt</c> (one token per line, id = line number) as a WordPiece tokenizer.</summary>
    /// <exception cref="TokenizerFormatException">The vocabulary lacks [UNK] or repeats a token.</exception>
    public static Tokenizer FromVocabTxt(string path, bool lowercase = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int id = 0;
        foreach (string line in File.ReadLines(path))
        {
            string token = line.TrimEnd('\r');
            if (token.Length == 0) { id++; continue; }
            if (!vocab.TryAdd(token, id)) throw new TokenizerFormatException($"{path}: token '{token}' appears twice (lines {vocab[token] + 1} and {id + 1}).");
            id++;
        }
        return Tokenizer.CreateWordPiece(vocab, lowercase);
    }

    /// <summary>GPT-2 <c>vocab.json</c> + <c>merges.txt</c> as a byte-level BPE tokenizer (<c>&lt;|endoftext|&gt;</c> special).</summary>
    /// <exception cref="TokenizerFormatException">A file is malformed.</exception>
    public static Tokenizer FromGpt2Files(string vocabJsonPath, string mergesPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabJsonPath);
        ArgumentException.ThrowIfNullOrEmpty(mergesPath);
        Dictionary<string, int> vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabJsonPath))
                ?? throw new TokenizerFormatException($"{vocabJsonPath}: empty vocabulary.");
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"{vocabJsonPath}: not a JSON object of token ids ({e.Message}).", e);
        }
        var merges = new List<(string, string)>();
        foreach (string raw in File.ReadLines(mergesPath))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith("#version", StringComparison.Ordinal)) continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2) throw new TokenizerFormatException($"{mergesPath}: line \"{line}\" is not two tokens.");
            merges.Add((parts[0], parts[1]));
        }
        var added = vocab.TryGetValue("<|endoftext|>", out int eos) ? new[] { new AddedToken(eos, "<|endoftext|>") } : [];
        return Tokenizer.CreateByteLevelBpe(vocab, merges, added);
    }
}
