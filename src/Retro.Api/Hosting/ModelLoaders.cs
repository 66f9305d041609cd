using System.Security.Cryptography;
using Retro.Core;
using Retro.Engine;

namespace Retro.Api.Hosting;

/// <summary>Model-folder loading for the service: encoder, reranker, tokenizer, and model identities.</summary>
internal static class ModelLoaders
{
    /// <summary>Folder name plus the first 12 hex digits of SHA-256 over the first MiB of model.safetensors and config.json.</summary>
    public static string ModelId(string folder)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in new[] { "config.json", "model.safetensors" })
        {
            string path = Path.Combine(folder, file);
            if (!File.Exists(path)) continue;
            using var stream = File.OpenRead(path);
            var buffer = new byte[1 << 20];
            int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            sha.AppendData(buffer, 0, read);
            sha.AppendData(BitConverter.GetBytes(stream.Length));
        }
        return $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}@{Convert.ToHexStringLower(sha.GetHashAndReset())[..12]}";
    }

    public static ITextEncoder LoadEncoder(string folder, IBackend backend, List<IDisposable> owned)
        => throw new NotSupportedException($"Loading the bi-encoder from {folder} needs the engine's BERT encoder (not in this build yet).");

    public static IReranker LoadReranker(string folder, IBackend backend, List<IDisposable> owned)
        => throw new NotSupportedException($"Loading the cross-encoder from {folder} needs the engine's BERT cross-encoder (not in this build yet).");

    public static ITokenizer LoadTokenizer(string folder)
        => throw new NotSupportedException($"Loading {folder}/tokenizer.json needs Retro.Tokenizers' loader (not in this build yet).");
}
