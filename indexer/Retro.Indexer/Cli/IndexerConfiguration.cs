using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Retro.Core;

namespace Retro.Indexer.Cli;

/// <summary>
/// Reads the <c>Retro:*</c> sections: <c>appsettings.json</c> next to the binary, then the one in the current folder
/// or the nearest parent holding one (the repository root), then environment variables (<c>Retro__VectorStore__Path</c>).
/// Command-line options override all of them.
/// </summary>
public static class IndexerConfiguration
{
    /// <summary>Builds the configuration for <paramref name="workingDirectory"/> (the current folder when null).</summary>
    public static IConfiguration Build(string? workingDirectory = null)
    {
        var builder = new ConfigurationBuilder();
        string beside = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        builder.AddJsonFile(beside, optional: true, reloadOnChange: false);
        if (FindUpwards(workingDirectory ?? Directory.GetCurrentDirectory(), "appsettings.json") is { } local && local != beside)
            builder.AddJsonFile(local, optional: true, reloadOnChange: false);
        builder.AddEnvironmentVariables();
        return builder.Build();
    }

    /// <summary>Binds and validates one options section; throws <see cref="OptionsException"/> with every problem.</summary>
    public static T Bind<T>(IConfiguration configuration, string section) where T : new()
    {
        var value = configuration.GetSection(section).Get<T>() ?? new T();
        Validate(value, section);
        return value;
    }

    /// <summary>Validates data annotations of <paramref name="value"/>; throws <see cref="OptionsException"/> naming each failure.</summary>
    public static void Validate(object value, string section)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
            throw new OptionsException($"Invalid {section}: " + string.Join("; ", results.Select(r => r.ErrorMessage)));
    }

    private static string? FindUpwards(string folder, string name)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>A configuration or command-line value is invalid (exit code 2).</summary>
public sealed class OptionsException(string message) : Exception(message);
