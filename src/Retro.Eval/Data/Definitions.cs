using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Retro.Eval.Data;

/// <summary>Which definition entries a set takes.</summary>
internal enum DefinitionSplit
{
    /// <summary>Entries whose url's SHA-1 (hex, of its UTF-8 bytes) ends in <c>0</c>: never trained or tuned on.</summary>
    HeldOut,

    /// <summary>Every other entry: the material of QA training and tuning.</summary>
    Train,
}

/// <summary>A dictionary entry turned into a definition question: the headword, its question and the reference answer.</summary>
internal sealed record DefinitionEntry(string Url, string Source, string Headword, string Question, string Answer)
{
    /// <summary>The term the question is about (<see cref="Definitions.TermOf"/> of the headword).</summary>
    public string Term => Definitions.TermOf(Headword);
}

/// <summary>
/// A definition set: its questions and the retrieval corpus, with every entry of a term. A question names a term, not a
/// dictionary, so every entry of its term (FOLDOC's, the Jargon File's, WordNet's "modem") answers it: retrieval scores
/// the term (a document counts as the term of its headword), and each entry's first sentence is a reference answer.
/// </summary>
internal sealed record DefinitionSet(List<DefinitionEntry> Entries, List<EvalDocument> Corpus,
    IReadOnlyDictionary<string, string> TermOfDocument, IReadOnlyDictionary<string, List<DefinitionEntry>> EntriesOfTerm);

/// <summary>
/// Definition questions over a dictionary corpus (the sample corpus's FOLDOC, Jargon File and WordNet entries: each
/// document starts with its headword): "What is X?", "Define X.", … with the entry's first definition sentence as the
/// reference answer. The split is by the entry's url (<see cref="IsHeldOut"/>), so an entry is either an evaluation
/// question or training material, never both. Deterministic: the question form is chosen by a hash of the url.
/// </summary>
internal static partial class Definitions
{
    /// <summary>Question forms; {0} is the headword.</summary>
    public static readonly IReadOnlyList<string> Forms = ["What is {0}?", "Define {0}.", "What does {0} mean?", "What is meant by {0}?", "Explain {0}."];

    /// <summary>Sources the extraction understands (the url's scheme, and the record's <c>source</c>).</summary>
    public static readonly IReadOnlyList<string> Sources = ["foldoc", "jargon", "wordnet"];

    /// <summary>Shortest answer kept, in words; shorter definitions (bare cross-references) make no question.</summary>
    public const int MinAnswerWords = 3;

    /// <summary>Longest answer kept, in words: a definition's first sentence past this is cut at a clause boundary or here.</summary>
    public const int MaxAnswerWords = 40;

    /// <summary>True when the entry with <paramref name="url"/> is held out: SHA-1 of its UTF-8 bytes, in hex, ends in <c>0</c>.</summary>
    public static bool IsHeldOut(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        byte[] digest = SHA1.HashData(Encoding.UTF8.GetBytes(url));
        return (digest[^1] & 0xF) == 0;
    }

    /// <summary>
    /// The definition entries of the corpus file <paramref name="path"/> in <paramref name="split"/>, in file order, at most
    /// <paramref name="limit"/> (0 = all) spread evenly over the file (every n-th), and every document of the file (the
    /// retrieval corpus, held-out entries included: they must be findable).
    /// </summary>
    public static DefinitionSet Read(string path, DefinitionSplit split, int limit)
    {
        var corpus = Datasets.ReadDocuments(path, 0);
        var all = new List<DefinitionEntry>();
        var terms = new Dictionary<string, string>(StringComparer.Ordinal);
        var byTerm = new Dictionary<string, List<DefinitionEntry>>(StringComparer.Ordinal);
        foreach (var doc in corpus)
        {
            int nl = doc.Text.IndexOf('\n');
            terms[doc.Id] = TermOf(nl > 0 ? doc.Text[..nl] : doc.Text);
            if (FromDocument(doc.Id, doc.Text) is not { } entry) continue;
            if (!byTerm.TryGetValue(entry.Term, out var list)) byTerm[entry.Term] = list = [];
            list.Add(entry);
            if ((split == DefinitionSplit.HeldOut) == IsHeldOut(doc.Id)) all.Add(entry);
        }
        if (limit > 0 && all.Count > limit)
        {
            var picked = new List<DefinitionEntry>(limit);
            for (int i = 0; i < limit; i++) picked.Add(all[(int)((long)i * all.Count / limit)]);
            all = picked;
        }
        return new DefinitionSet(all, corpus, terms, byTerm);
    }

    /// <summary>A headword as a term: trimmed, lower-case (invariant), inner whitespace and underscores as one space.</summary>
    public static string TermOf(string headword)
    {
        ArgumentNullException.ThrowIfNull(headword);
        return Whitespace().Replace(headword.Replace('_', ' '), " ").Trim().ToLowerInvariant();
    }

    /// <summary>The entry of one document, or null when its source is unknown or it has no usable first sentence.</summary>
    public static DefinitionEntry? FromDocument(string url, string text)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(text);
        int colon = url.IndexOf(':');
        string source = colon > 0 ? url[..colon] : "";
        if (!Sources.Contains(source)) return null;
        int nl = text.IndexOf('\n');
        if (nl <= 0) return null;
        string headword = text[..nl].Trim();
        if (!headword.Any(char.IsLetter)) return null;
        string? answer = source switch
        {
            "foldoc" => Foldoc(text[(nl + 1)..]),
            "jargon" => Jargon(text[(nl + 1)..]),
            _ => WordNet(text[(nl + 1)..]),
        };
        if (answer is null || WordCount(answer) < MinAnswerWords) return null;
        string form = Forms[(int)(BitConverter.ToUInt32(SHA1.HashData(Encoding.UTF8.GetBytes(url)), 0) % (uint)Forms.Count)];
        return new DefinitionEntry(url, source, headword, string.Format(System.Globalization.CultureInfo.InvariantCulture, form, headword), answer);
    }

    // ---------------------------------------------------------------- per source

    /// <summary>FOLDOC: "&lt;tags&gt; Body…" (or "1. &lt;tags&gt; …"); links in braces; the first sentence of the body.</summary>
    private static string? Foldoc(string body)
    {
        string text = Squash(body);
        text = SenseNumber().Replace(text, "", 1);
        text = LeadingTag().Replace(text, "", 1);
        text = text.Replace("{", "").Replace("}", "");
        return FirstSentence(text);
    }

    /// <summary>
    /// Jargon File: pronunciation (/…/), part of speech (n., adj., vt., …), etymology ([…]) and sense numbers precede the
    /// definition; the first sentence after them.
    /// </summary>
    private static string? Jargon(string body)
    {
        string text = Squash(body).Replace("{", "").Replace("}", "");
        string previous;
        do
        {
            previous = text;
            text = JargonPreamble().Replace(text, "", 1).TrimStart();
        }
        while (text != previous);
        return FirstSentence(text);
    }

    /// <summary>WordNet: "1. noun (also: …): gloss; "example"" — sense 1's gloss up to its first example or semicolon.</summary>
    private static string? WordNet(string body)
    {
        var m = WordNetSense().Match(body);
        if (!m.Success) return null;
        string gloss = m.Groups["gloss"].Value;
        int cut = gloss.IndexOfAny([';', '"']);
        if (cut >= 0) gloss = gloss[..cut];
        gloss = gloss.Trim();
        return gloss.Length == 0 ? null : Capped(gloss);
    }

    // ---------------------------------------------------------------- text

    /// <summary>The first sentence: up to the first '.', '!' or '?' followed by a space and a capital, a sense number ("2. "), or the end; capped.</summary>
    internal static string? FirstSentence(string text)
    {
        text = text.Trim();
        if (text.Length == 0) return null;
        var m = SentenceEnd().Match(text);
        string sentence = m.Success ? text[..(m.Index + 1)] : text;
        return Capped(sentence.Trim());
    }

    private static string Capped(string sentence)
    {
        var words = sentence.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length <= MaxAnswerWords) return string.Join(' ', words);
        // cut at the last clause boundary within the cap, else at the cap
        int end = MaxAnswerWords;
        for (int i = MaxAnswerWords - 1; i >= MaxAnswerWords / 2; i--)
        {
            if (words[i].EndsWith(',') || words[i].EndsWith(';') || words[i].EndsWith(':')) { end = i + 1; break; }
        }
        return string.Join(' ', words[..end]).TrimEnd(',', ';', ':');
    }

    private static string Squash(string text) => Whitespace().Replace(text, " ").Trim();

    private static int WordCount(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(w => w.Any(char.IsLetterOrDigit));

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"^\d+\.\s+")]
    private static partial Regex SenseNumber();

    [GeneratedRegex(@"^<[^>]*>\s*")]
    private static partial Regex LeadingTag();

    [GeneratedRegex(@"^(?:/[^/]{1,60}/|\[[^\]]*\]|\d+\.|(?:n|v|vi|vt|adj|adv|interj|pref|suff|prep|conj|pron|excl|abbrev|obs|pl|num|inc)\.(?:,\s*(?:n|v|vi|vt|adj|adv|interj|obs|pl)\.)*|,)")]
    private static partial Regex JargonPreamble();

    [GeneratedRegex(@"^1\.\s+(?:noun|verb|adjective|adverb)(?:\s+satellite)?(?:\s*\([^)\n]*\))?:\s*(?<gloss>[^\n]+)", RegexOptions.Multiline)]
    private static partial Regex WordNetSense();

    [GeneratedRegex(@"[.!?](?=\s+(?:[A-Z(\u201c""]|\d+\.\s)|$)")]
    private static partial Regex SentenceEnd();
}
