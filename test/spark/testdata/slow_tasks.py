"""Tasks that take a while (2 s each), so that Spark's dynamic allocation
asks for executors beyond its minimum while they run."""
import sys
import time

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("SlowTasks").getOrCreate()
n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
total = spark.sparkContext.parallelize(range(n), n).map(lambda x: (time.sleep(2), x)[1]).sum()
print("Sum is %d" % total)
spark.stop()
