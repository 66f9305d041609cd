using System.Text;
using System.Text.Json;
using Retro.Tokenizers.Pipeline;

namespace Retro.Tokenizers;

public sealed partial class Tokenizer
{
    /// <summary>This tokenizer as Hugging Face <c>tokenizer.json</c> text (indented, UTF-8 without BOM when saved).</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        WriteJson(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes this tokenizer as Hugging Face <c>tokenizer.json</c> to <paramref name="stream"/> (left open).</summary>
    public void WriteJson(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            Indented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        TokenizerJson.Write(this, writer);
    }

    /// <summary>Saves this tokenizer as <c>tokenizer.json</c> at <paramref name="path"/> (overwritten).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = File.Create(path);
        WriteJson(stream);
    }
}
