<?xml version="1.0" encoding="utf-8"?>
<!-- Shows an RSS 2.0 or Atom 1.0 feed as a readable page when it is opened in a browser. -->
<xsl:stylesheet version="1.0"
  xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:atom="http://www.w3.org/2005/Atom"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>
  <xsl:template match="/">
    <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
    <html lang="en">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
        <link rel="stylesheet" href="/static/site.css"/>
      </head>
      <body>
        <header class="masthead">
          <a class="brand" href="/"><xsl:value-of select="$title"/></a>
          <p class="tagline"><xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/></p>
        </header>
        <main>
          <section class="notice feed-notice">
            <p><strong>This is a web feed.</strong> Copy this page's address into your feed
            reader (Feedly, NetNewsWire, Inoreader, Thunderbird...) to follow new stories.</p>
          </section>
          <ol class="stories">
            <xsl:for-each select="/rss/channel/item">
              <li class="story">
                <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
                <p class="summary"><xsl:value-of select="description"/></p>
                <p class="meta"><xsl:value-of select="pubDate"/>
                  <xsl:if test="dc:creator"> · <xsl:value-of select="dc:creator"/></xsl:if></p>
              </li>
            </xsl:for-each>
            <xsl:for-each select="/atom:feed/atom:entry">
              <li class="story">
                <h2><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h2>
                <p class="summary"><xsl:value-of select="atom:summary"/></p>
                <p class="meta"><xsl:value-of select="substring(atom:published, 1, 10)"/>
                  <xsl:if test="atom:author/atom:name"> · <xsl:value-of select="atom:author/atom:name"/></xsl:if></p>
              </li>
            </xsl:for-each>
          </ol>
        </main>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
