namespace Retro.Api.Hosting;

/// <summary>The self-contained question page (HTML + JS embedded in the assembly; no CDN).</summary>
internal static class WebPage
{
    private static readonly Lazy<string> Html = new(() =>
    {
        using var stream = typeof(WebPage).Assembly.GetManifestResourceStream("Retro.Api.index.html")
            ?? throw new InvalidOperationException("The embedded page Retro.Api.index.html is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public static IResult Get() => TypedResults.Content(Html.Value, "text/html; charset=utf-8");
}
