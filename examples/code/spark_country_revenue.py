"""Orders and revenue per country with PySpark: CSV in, Parquet out.

usage: spark_country_revenue.py <orders.csv> <output dir> <since date>"""
import sys

from pyspark.sql import SparkSession, functions as F

source, target, since = sys.argv[1], sys.argv[2], sys.argv[3]
spark = SparkSession.builder.appName("spark_country_revenue").getOrCreate()
orders = spark.read.option("header", True).option("inferSchema", True).csv(source)
summary = (
    orders.where((F.col("status") != "CANCELLED") & (F.col("ordered_at") >= since))
    .groupBy("country")
    .agg(F.count("*").alias("orders"), F.round(F.sum("amount"), 2).alias("revenue"))
    .orderBy("country")
)
print(f"countries: {summary.count()}")
summary.write.mode("overwrite").parquet(target)
spark.stop()
