CREATE OR REFRESH MATERIALIZED VIEW base AS SELECT 'great product' AS review;

CREATE OR REFRESH MATERIALIZED VIEW sentiment
AS SELECT review, ai_analyze_sentiment(review) AS mood FROM base;
