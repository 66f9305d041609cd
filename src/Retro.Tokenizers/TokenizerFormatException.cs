namespace Retro.Tokenizers;

/// <summary>A tokenizer file is malformed or uses a component this library does not implement.</summary>
public sealed class TokenizerFormatException : Exception
{
    /// <summary>Creates the exception with a message naming the file, component and problem.</summary>
    public TokenizerFormatException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the parser's error.</summary>
    public TokenizerFormatException(string message, Exception inner) : base(message, inner) { }
}
